// A classic-watchdog function for kindling's container tier: one Node process per call, the
// request body on stdin, the response on stdout, the request in Http_* environment variables.
//
// Query parameters (Http_Query) for the examples, tests and benchmarks:
//   exit=N    exit with status N after writing the output (N != 0 gives a 500)
//   alloc=N   allocate and touch N MiB first (shows the memory limit)
//   sleep=N   wait N ms first
const chunks = []
process.stdin.on('data', (c) => chunks.push(c))
process.stdin.on('end', async () => {
  const q = new URLSearchParams(process.env.Http_Query ?? '')
  const kept = []
  for (let i = 0; i < Number(q.get('alloc') ?? 0); i++) kept.push(Buffer.alloc(1 << 20, 1))
  const ms = Number(q.get('sleep') ?? 0)
  if (ms) await new Promise((r) => setTimeout(r, ms))
  const body = Buffer.concat(chunks).toString()
  process.stdout.write(
    JSON.stringify({ method: process.env.Http_Method, path: process.env.Http_Path, length: body.length, upper: body.toUpperCase(), kept: kept.length }) + '\n',
  )
  if (q.get('exit')) {
    console.error(`exiting with ${q.get('exit')} as asked`)
    process.exitCode = Number(q.get('exit'))
  }
})
