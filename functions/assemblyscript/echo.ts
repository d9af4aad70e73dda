// echo: returns the request body unchanged (as a UTF-8 string).
// kindling's AssemblyScript contract: export `handle(body: string): string` (or
// `handleBytes(body: ArrayBuffer): ArrayBuffer`), build with --exportRuntime.
export function handle(body: string): string {
  return body
}
