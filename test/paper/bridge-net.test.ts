// R1N's default networking for crun (paper/experiments/bridge-net.ts): a real bridge, a real crun
// container created from the paper's bundle, its veth end moved in between create and start, and
// everything removed afterwards. Needs root and crun (CI has both).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { BRIDGE, containerAddress, ociCreate, ociStart, openBridgeNet } from '../../paper/experiments/bridge-net.js'
import { openContainerKit } from '../../paper/experiments/containers.js'
import { REPO_ROOT } from '../../runtime/index.js'
import { which } from '../../isolation/index.js'

test('container addresses start at .2 and skip .255, .0 and .1', () => {
  assert.equal(containerAddress(0), '10.213.0.2')
  assert.equal(containerAddress(252), '10.213.0.254')
  assert.equal(containerAddress(253), '10.213.1.2')
})

const why = process.getuid?.() !== 0 ? 'needs root' : !which('crun') ? 'crun is not installed' : !which('ip') ? 'iproute2 is not installed' : undefined
test('a crun container gets eth0 with its address and a default route through the bridge, and nothing is left after', { skip: why }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-bridge-'))
  const kit = await openContainerKit(REPO_ROOT, dir, { engines: false, log: () => {} })
  const id = `kpaper-test-${process.pid}`
  const net = await openBridgeNet()
  try {
    assert.ok(kit.oci.crun, kit.unavailable ?? kit.missing.join('; '))
    assert.match(net.nat, /^(none: |iptables |nft )/)
    const pid = await ociCreate(kit.oci.crun!, kit.bundle('crun', 'bb', ['/bin/true']), id, path.join(dir, 'pid'))
    const { host } = await net.attach(pid, 0)
    const inside = execFileSync('nsenter', ['-t', String(pid), '-n', 'ip', '-o', 'addr', 'show', 'eth0'], { encoding: 'utf8' })
    assert.match(inside, /inet 10\.213\.0\.2\/16/)
    assert.match(execFileSync('nsenter', ['-t', String(pid), '-n', 'ip', 'route'], { encoding: 'utf8' }), /default via 10\.213\.0\.1 dev eth0/)
    assert.match(execFileSync('ip', ['-o', 'link', 'show', host], { encoding: 'utf8' }), new RegExp(`master ${BRIDGE}`))
    await ociStart(kit.oci.crun!, id)
    execFileSync(kit.oci.crun!, ['delete', '-f', id])
    await net.detach(host)
    assert.equal(fs.existsSync(`/sys/class/net/${host}`), false)
    // a second bridge of the same name is refused: it would not be ours to remove
    await assert.rejects(openBridgeNet(), /exists already/)
  } finally {
    try {
      execFileSync(kit.oci.crun ?? 'crun', ['delete', '-f', id], { stdio: 'ignore' })
    } catch {
      // already deleted
    }
    await net.close()
    await kit.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  assert.equal(fs.existsSync(`/sys/class/net/${BRIDGE}`), false)
  // closing twice (the experiment's finally, then the run's atEnd) leaves a newer bridge alone
  const next = await openBridgeNet()
  try {
    await net.close()
    assert.equal(fs.existsSync(`/sys/class/net/${BRIDGE}`), true)
  } finally {
    await next.close()
  }
  assert.equal(fs.existsSync(`/sys/class/net/${BRIDGE}`), false)
})
