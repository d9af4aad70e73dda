// fib: the request body is n (default 20); the response is the n-th Fibonacci number, computed
// recursively so that it does real work.
function fib(n: i32): i64 {
  return n < 2 ? <i64>n : fib(n - 1) + fib(n - 2)
}

export function handle(body: string): string {
  const trimmed = body.trim()
  let n: i32 = trimmed.length ? I32.parseInt(trimmed) : 20
  if (n < 0 || n > 90) return 'n must be between 0 and 90\n'
  return fib(n).toString() + '\n'
}
