// kv-counter: a counter kept in a key-value store (issue 13), through the kindling kv_* imports.
// Deploy it with annotation com.kindling.kv=counter; every call with an empty body adds 1 to the key
// "count" of store "counter" and answers the new value, across calls, sandboxes and restarts.
// It also answers one command per call, so tests drive every import through a real guest:
//   incr STORE KEY [DELTA] | get STORE KEY | set STORE KEY VALUE [TTL_MS] | del STORE KEY
//   cas STORE KEY OLD|- NEW | list STORE [PREFIX] | var NAME
// A refused operation answers "error KINDLING_ERR_... (code)": a store not granted, a key too large.

@external("kindling", "kv_open")
declare function kv_open(namePtr: usize, nameLen: i32): i32
@external("kindling", "kv_get")
declare function kv_get(h: i32, keyPtr: usize, keyLen: i32, outPtr: usize, outCap: i32): i32
@external("kindling", "kv_set")
declare function kv_set(h: i32, keyPtr: usize, keyLen: i32, valPtr: usize, valLen: i32, ttlMs: i64): i32
@external("kindling", "kv_delete")
declare function kv_delete(h: i32, keyPtr: usize, keyLen: i32): i32
@external("kindling", "kv_increment")
declare function kv_increment(h: i32, keyPtr: usize, keyLen: i32, delta: i64, outPtr: usize): i32
@external("kindling", "kv_cas")
declare function kv_cas(h: i32, keyPtr: usize, keyLen: i32, oldPtr: usize, oldLen: i32, newPtr: usize, newLen: i32, ttlMs: i64): i32
@external("kindling", "kv_list_keys")
declare function kv_list_keys(h: i32, prefixPtr: usize, prefixLen: i32, afterPtr: usize, afterLen: i32, outPtr: usize, outCap: i32): i32
@external("kindling", "var_get")
declare function var_get(namePtr: usize, nameLen: i32, outPtr: usize, outCap: i32): i32

function errorName(code: i32): string {
  if (code == -1) return 'KINDLING_ERR_KV_NOT_GRANTED'
  if (code == -2) return 'KINDLING_ERR_KV_NOT_FOUND'
  if (code == -4) return 'KINDLING_ERR_KV_KEY_TOO_LARGE'
  if (code == -5) return 'KINDLING_ERR_KV_VALUE_TOO_LARGE'
  if (code == -6) return 'KINDLING_ERR_KV_STORE_FULL'
  if (code == -7) return 'not a number'
  return 'kv error'
}

function fail(code: i32): string {
  return 'error ' + errorName(code) + ' (' + code.toString() + ')\n'
}

function ptr(b: ArrayBuffer): usize {
  return changetype<usize>(b)
}

/** Reads a value whose length a first call with a small buffer told. */
function readValue(h: i32, key: ArrayBuffer): string {
  let out = new ArrayBuffer(256)
  let n = kv_get(h, ptr(key), key.byteLength, ptr(out), out.byteLength)
  if (n < 0) return fail(n)
  if (n > out.byteLength) {
    out = new ArrayBuffer(n)
    n = kv_get(h, ptr(key), key.byteLength, ptr(out), out.byteLength)
    if (n < 0) return fail(n)
  }
  return String.UTF8.decode(out.slice(0, n)) + '\n'
}

function listKeys(h: i32, prefix: ArrayBuffer): string {
  const out = new ArrayBuffer(8192)
  let after = new ArrayBuffer(0)
  let first = true
  let text = ''
  while (true) {
    const n = kv_list_keys(h, ptr(prefix), prefix.byteLength, ptr(after), first ? -1 : after.byteLength, ptr(out), out.byteLength)
    if (n < 0) return fail(n)
    if (n == 0) return text
    let at: i32 = 0
    while (at < n) {
      const len = load<u32>(ptr(out) + at) as i32
      after = out.slice(at + 4, at + 4 + len)
      text += String.UTF8.decode(after) + '\n'
      at += 4 + len
    }
    first = false
  }
}

export function handle(body: string): string {
  const w = body.trim().split(' ')
  const op = w[0]
  if (op == '' ) return handle('incr counter count 1')
  if (op == 'var') {
    const name = String.UTF8.encode(w[1])
    const out = new ArrayBuffer(4096)
    const n = var_get(ptr(name), name.byteLength, ptr(out), out.byteLength)
    if (n < 0) return n == -1 ? 'error KINDLING_ERR_VARIABLE_NOT_GRANTED (-1)\n' : fail(n)
    return String.UTF8.decode(out.slice(0, min(n, out.byteLength))) + '\n'
  }
  if (w.length < 2) return 'usage: incr|get|set|del|cas|list STORE KEY ...\n'
  const store = String.UTF8.encode(w[1])
  const h = kv_open(ptr(store), store.byteLength)
  if (h < 0) return fail(h)
  if (op == 'list') return listKeys(h, String.UTF8.encode(w.length > 2 ? w[2] : ''))
  if (w.length < 3) return 'usage: incr|get|set|del|cas|list STORE KEY ...\n'
  const key = String.UTF8.encode(w[2])
  if (op == 'incr') {
    const result = new ArrayBuffer(8)
    const delta: i64 = w.length > 3 ? I64.parseInt(w[3]) : 1
    const rc = kv_increment(h, ptr(key), key.byteLength, delta, ptr(result))
    if (rc < 0) return fail(rc)
    return load<i64>(ptr(result)).toString() + '\n'
  }
  if (op == 'get') return readValue(h, key)
  if (op == 'set' && w.length > 3) {
    const value = String.UTF8.encode(w[3])
    const ttl: i64 = w.length > 4 ? I64.parseInt(w[4]) : 0
    const rc = kv_set(h, ptr(key), key.byteLength, ptr(value), value.byteLength, ttl)
    return rc < 0 ? fail(rc) : 'ok\n'
  }
  if (op == 'del') {
    const rc = kv_delete(h, ptr(key), key.byteLength)
    return rc < 0 ? fail(rc) : rc.toString() + '\n'
  }
  if (op == 'cas' && w.length > 4) {
    const old = String.UTF8.encode(w[3])
    const next = String.UTF8.encode(w[4])
    const rc = kv_cas(h, ptr(key), key.byteLength, ptr(old), w[3] == '-' ? -1 : old.byteLength, ptr(next), next.byteLength, 0)
    return rc < 0 ? fail(rc) : rc.toString() + '\n'
  }
  return 'unknown command ' + op + '\n'
}
