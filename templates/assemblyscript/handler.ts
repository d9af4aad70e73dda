// {{NAME}}: a kindling function in AssemblyScript. kindling calls handle with the request body and
// answers with what it returns (handleBytes(body: ArrayBuffer): ArrayBuffer works for binary data).
export function handle(body: string): string {
  return 'Hello from {{NAME}} (AssemblyScript)! You sent: ' + body + '\n'
}
