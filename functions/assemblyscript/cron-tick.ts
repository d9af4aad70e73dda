// cron-tick: a cron job (issue 13). Deployed with annotations topic: cron-function and a schedule
// (functions/cron/stack.yml), kindling calls it on every tick as an async call with an empty body
// (headers X-Kindling-Trigger: cron, X-Kindling-Schedule, X-Kindling-Tick); each tick adds 1 to
// key "ticks" of its key-value store "cron" (annotation com.kindling.kv: cron) and answers the new
// count. Called with the body "count", it answers the count without adding to it.

@external("kindling", "kv_open")
declare function kv_open(namePtr: usize, nameLen: i32): i32
@external("kindling", "kv_get")
declare function kv_get(h: i32, keyPtr: usize, keyLen: i32, outPtr: usize, outCap: i32): i32
@external("kindling", "kv_increment")
declare function kv_increment(h: i32, keyPtr: usize, keyLen: i32, delta: i64, outPtr: usize): i32

export function handle(body: string): string {
  const store = String.UTF8.encode('cron')
  const key = String.UTF8.encode('ticks')
  const h = kv_open(changetype<usize>(store), store.byteLength)
  if (h < 0) return 'error: store "cron" is not granted (annotation com.kindling.kv: cron), code ' + h.toString() + '\n'
  if (body.trim() == 'count') {
    const out = new ArrayBuffer(32)
    const n = kv_get(h, changetype<usize>(key), key.byteLength, changetype<usize>(out), out.byteLength)
    // -2: no tick yet
    if (n == -2) return '0\n'
    if (n < 0) return 'error: kv_get ' + n.toString() + '\n'
    // kv_increment keeps the count as its decimal text
    return String.UTF8.decode(out.slice(0, n)) + '\n'
  }
  const result = new ArrayBuffer(8)
  const rc = kv_increment(h, changetype<usize>(key), key.byteLength, 1, changetype<usize>(result))
  if (rc < 0) return 'error: kv_increment ' + rc.toString() + '\n'
  return load<i64>(changetype<usize>(result)).toString() + '\n'
}
