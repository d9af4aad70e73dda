// In-netns forwarder for HTTP-mode servers that only listen on TCP inside their container.
// kindling starts it with `nsenter --net=/proc/<pid>/ns/net`, so it runs in the container's
// private, loopback-only network namespace (its files and cgroup stay the host's). It waits until
// the server accepts on HOST:PORT, then listens on a Unix socket on the host and pipes every
// connection through. It exits when kindling closes its stdin (also when kindling is killed).
// usage: node forwarder.mjs SOCKET HOST PORT MARKER     (MARKER lets the cleanup at start find it)
import fs from 'node:fs'
import net from 'node:net'

const [sock, host, portText] = process.argv.slice(2)
const port = Number(portText)
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
  })
  server.listen(sock, () => process.stdout.write('ready\n'))
}

probe()
