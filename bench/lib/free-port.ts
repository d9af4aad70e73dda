// A free loopback port for a server a benchmark or a test starts (closed again before the server
// takes it: a small race, fine on a test or benchmark machine). Here, in bench/lib, because the
// built benchmarks (dist/bench) cannot import test/; test/helpers/free-port.ts re-exports it.
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
