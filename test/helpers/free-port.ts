// One free-port helper for the test harnesses (nats-server, the registry) and the benchmarks.
export { freePort } from '../../bench/lib/free-port.js'
