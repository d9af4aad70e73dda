// A free loopback port for a server a test starts (closed again before the server takes it: a small
// race, fine on a test machine). One place for the test helpers (nats-server, the registry) and the
// benchmarks that start servers (bench/scopes/peers.ts, cluster.ts).
import net from 'node:net'

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}
