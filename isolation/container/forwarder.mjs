// In-netns forwarder for HTTP-mode servers that only listen on TCP inside their container.
// kindling starts it with `nsenter --net=/proc/<pid>/ns/net`, so it runs in the container's
// private, loopback-only network namespace (its files and cgroup stay the host's). It waits until
// the server accepts on HOST:PORT, then listens on a Unix socket on the host and pipes every
// connection through. It exits when kindling closes its stdin (also when kindling is killed).
// usage: node forwarder.mjs SOCKET HOST PORT MARKER     (MARKER lets the cleanup at start find it)
//
// With a fifth argument `egress` it pipes the other way, for a function that com.kindling.outbound
// grants network (egress.ts): it listens on HOST:PORT inside the container's namespace and pipes
// every connection to the Unix socket SOCKET, where kindling's egress proxy listens on the host.
// A sixth argument (base64) is the answer to a connection past MAX_CONNECTIONS (a 503 with its code).
// It runs as root on the host and the function is its only client: nothing the function does may
// end it (an accept error once listening is logged, not fatal) or pile up its descriptors.
import fs from 'node:fs'
import net from 'node:net'

const [sock, host, portText, , mode, busyText] = process.argv.slice(2)
const port = Number(portText)
/** at most this many connections at once (the proxy's own limit, egress-proxy.ts) */
const MAX_CONNECTIONS = 32
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
process.stdin.resume()

function probe() {
  const c = net.connect({ host, port })
  c.once('connect', () => {
    c.destroy()
    listen()
  })
  c.once('error', () => setTimeout(probe, 3))
}

function listen() {
  try {
    fs.unlinkSync(sock)
  } catch {}
  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port })
    client.pipe(upstream)
    upstream.pipe(client)
    const drop = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', drop)
    upstream.on('error', drop)
    // a server that never closes its side would hold the pair's upstream descriptor for ever
    client.on('close', drop)
    upstream.on('close', drop)
  })
  server.listen(sock, () => process.stdout.write('ready\n'))
}

/**
 * Both ways. A client's half-close (busybox nc when its stdin ends) stops at the forwarder: Node's
 * HTTP server would drop a request still in progress on it, so the proxy's answer ends the pair.
 * Once the proxy has ended its side and that end reached the client (finish), or either side is
 * closed, both go: a half-open pair would hold its two descriptors for ever.
 */
function pipe(a, b) {
  a.pipe(b, { end: false })
  b.pipe(a)
  const drop = () => {
    a.destroy()
    b.destroy()
  }
  a.on('error', drop)
  b.on('error', drop)
  a.on('finish', drop)
  a.on('close', drop)
  b.on('close', drop)
}

function egress() {
  const busy = busyText ? Buffer.from(busyText, 'base64') : Buffer.alloc(0)
  let open = 0
  let listening = false
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    // counted here, not with server.maxConnections, which drops the connection without a word
    if (open >= MAX_CONNECTIONS) {
      client.on('error', () => client.destroy())
      client.end(busy, () => client.destroy())
      return
    }
    open++
    client.once('close', () => open--)
    pipe(client, net.connect({ path: sock, allowHalfOpen: true }))
  })
  server.on('error', (e) => {
    if (listening) return void process.stderr.write(`accept failed: ${e.code ?? e.message}\n`)
    process.stderr.write(`cannot listen on ${host}:${port} inside the container: ${e.code ?? e.message}\n`)
    process.exit(1)
  })
  server.listen({ host, port }, () => ((listening = true), process.stdout.write(`ready ${server.address().port}\n`)))
}

if (mode === 'egress') egress()
else probe()
