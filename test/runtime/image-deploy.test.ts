// Pull on deploy through the gateway (issue 14): an air-gapped kindling with a docker.io mirror
// (a real docker-registry on loopback) deploys theaxer/redirector:latest as OpenFaaS users do; the
// deploy answers once the image is there, its logs tell the pull, and the function's 302 reaches
// the caller unchanged. Unknown images and tags answer 400 with their codes.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { findStaticBusybox } from '../../isolation/container/images/index.js'
import { containerSkipReason } from '../isolation/container/helpers.js'
import { startKindling, type TestKindling } from '../helpers/kindling.js'
import { gzip, LAYER, makeTar, Pusher, registrySkipReason, startRegistry, type RunningRegistry } from '../helpers/oci-registry.js'

const skip = registrySkipReason() ?? containerSkipReason()

describe('pull on deploy from a docker.io mirror', { skip }, () => {
  let reg: RunningRegistry
  let k: TestKindling
  const sys = (method: 'GET' | 'POST', url: string, payload?: unknown) => k.app.inject({ method, url, headers: k.auth, payload: payload as Record<string, unknown> })

  before(async () => {
    reg = await startRegistry()
    const cgi = '#!/bin/sh\nprintf "Status: 302 Found\\r\\nLocation: %s\\r\\n\\r\\n" "$REDIRECT_TO"\n'
    const layer = makeTar([
      { name: 'bin/busybox', data: fs.readFileSync(findStaticBusybox()!), mode: 0o755 },
      { name: 'bin/sh', type: '2', linkname: 'busybox' },
      { name: 'www/cgi-bin/go', data: cgi, mode: 0o755 },
    ])
    await new Pusher(reg.url).image('theaxer/redirector', 'latest', [{ bytes: gzip(layer), uncompressed: layer, mediaType: LAYER.gzip }], {
      config: { Env: ['REDIRECT_TO=https://www.openfaas.com/'], Entrypoint: ['/bin/busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'], ExposedPorts: { '8080/tcp': {} } },
    })
    k = await startKindling({ registryMirrors: [`docker.io=${reg.url}`] })
  })
  after(async () => {
    await k?.cleanup()
    await reg?.stop()
  })

  it('deploys theaxer/redirector:latest from the mirror; the 302 reaches the caller; the logs tell the pull', async () => {
    const dep = await sys('POST', '/system/functions', { service: 'redirector', image: 'theaxer/redirector:latest', labels: { 'com.kindling.isolation': 'container' } })
    assert.equal(dep.statusCode, 202, dep.body)
    const r = await k.app.inject({ method: 'GET', url: '/function/redirector/cgi-bin/go' })
    assert.equal(r.statusCode, 302, r.body)
    assert.equal(r.headers['location'], 'https://www.openfaas.com/')
    const logs = (await sys('GET', '/system/logs?name=redirector')).body
    assert.match(logs, /pulling theaxer\/redirector:latest from http:\/\/127\.0\.0\.1:\d+\/theaxer\/redirector \(mirror of docker\.io\)/)
    assert.match(logs, /pulled theaxer\/redirector:latest/)
  })

  it('answers 400 with a code for an unknown image and an unknown tag', async () => {
    const a = await sys('POST', '/system/functions', { service: 'nothing', image: 'theaxer/nothing:1', labels: { 'com.kindling.isolation': 'container' } })
    assert.equal(a.statusCode, 400, a.body)
    assert.equal(a.headers['x-kindling-error'], 'KINDLING_ERR_IMAGE_NOT_FOUND')
    const b = await sys('POST', '/system/functions', { service: 'notag', image: 'theaxer/redirector:v9', labels: { 'com.kindling.isolation': 'container' } })
    assert.equal(b.statusCode, 400, b.body)
    assert.equal(b.headers['x-kindling-error'], 'KINDLING_ERR_IMAGE_TAG_NOT_FOUND')
  })
})
