// This node's place in a cluster: its stable id, its role, the NATS link, the cluster key and the
// membership heartbeat. createKindling joins when KINDLING_NATS_URL is set; the state, call and
// async parts of runtime/cluster/ take what they need from the ClusterNode.
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Config } from '../config.js'
import { writePrivateAtomic } from '../files.js'
import { readClusterKey } from './cluster-key.js'
import { type ClusterLink, connectCluster } from './connect.js'
import { Membership, type NodeRecord, type NodeRole } from './membership.js'

export interface ClusterNode {
  readonly id: string
  readonly role: NodeRole
  readonly link: ClusterLink
  readonly membership: Membership
  /** seals secrets before they go into the cluster's KV bucket */
  readonly key: Buffer
  /** worker or all: this node runs the tiers */
  readonly runsCalls: boolean
  /** gateway or all: this node serves the API */
  readonly servesApi: boolean
  /** starts the heartbeat, once the node knows its URL */
  announce(describe: () => Omit<NodeRecord, 'id' | 'role' | 'startedAt' | 'sentAt'>): Promise<void>
  close(): Promise<void>
}

export const HEARTBEAT_MS = 1000
export const NODE_TTL_MS = 3500

/** A random id kept in the data dir, so that a restarted node is the same node to the others. */
export function nodeIdOf(dataDir: string): string {
  const file = path.join(dataDir, 'node-id')
  try {
    const id = fs.readFileSync(file, 'utf8').trim()
    if (/^[a-z0-9-]{4,64}$/.test(id)) return id
  } catch {
    /* first start */
  }
  const id = `${os.hostname().toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 20) || 'node'}-${crypto.randomBytes(4).toString('hex')}`
  writePrivateAtomic(file, Buffer.from(id + '\n'))
  return id
}

export async function joinCluster(config: Config): Promise<ClusterNode> {
  const key = readClusterKey(config.clusterKeyFile)
  const id = nodeIdOf(config.dataDirAbs)
  const role = config.role as NodeRole
  const link = await connectCluster(config.natsUrl, { name: `kindling-${id}`, timeoutMs: config.natsConnectTimeoutMs })
  const startedAt = new Date().toISOString()
  let describe: (() => Omit<NodeRecord, 'id' | 'role' | 'startedAt' | 'sentAt'>) | undefined
  const membership = new Membership(
    link,
    () => ({ ...(describe?.() ?? { url: '', tiers: [], warm: {}, inflight: 0, load: 0 }), id, role, startedAt, sentAt: new Date().toISOString() }),
    { heartbeatMs: HEARTBEAT_MS, ttlMs: NODE_TTL_MS },
  )
  return {
    id,
    role,
    link,
    membership,
    key,
    runsCalls: role !== 'gateway',
    servesApi: role !== 'worker',
    async announce(d) {
      describe = d
      await membership.start()
    },
    async close() {
      await membership.stop()
      await link.close()
    },
  }
}
