// {{NAME}}: a kindling function in JavaScript. It runs as a wasi:http component (componentize-js,
// StarlingMonkey): fetch gets a web Request and returns a Response (or a promise of one), as in a
// service worker. Web APIs are there (Request, Response, Headers, URL, TextEncoder, crypto); Node's
// are not, and outgoing fetch is denied.
export default {
  async fetch(request) {
    const body = await request.text()
    const url = new URL(request.url)
    return new Response(`Hello from {{NAME}} (JavaScript)! You sent: ${body}\n`, {
      headers: { 'content-type': 'text/plain; charset=utf-8', 'x-path': url.pathname },
    })
  },
}
