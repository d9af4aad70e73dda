// counter: counts the calls this instance has served. With the default fresh state every call
// answers 1 (no state survives a call); deployed with com.kindling.state=reuse, the warm instance
// keeps counting, as a cache would survive in of-watchdog's HTTP mode.
let calls: i32 = 0

export function handle(body: string): string {
  calls++
  return calls.toString() + '\n'
}
