// The kindling outbound HTTP import for C (wasm32-wasi), documented in isolation/wasm/host/outbound.ts.
// A request is refused unless the function's com.kindling.outbound annotation grants its URL.
// When the call is traced, kindling sends a traceparent of its own (a child of the call's span) in
// place of any the headers name.
#ifndef KINDLING_HTTP_H
#define KINDLING_HTTP_H
#include <stdint.h>

// negative results of kindling_http_request
#define KINDLING_HTTP_DENIED -1        // not granted by com.kindling.outbound (KINDLING_ERR_OUTBOUND_DENIED)
#define KINDLING_HTTP_BAD_ARGUMENTS -2 // a pointer or length outside memory, a bad header line
#define KINDLING_HTTP_INVALID_URL -3   // not an absolute http(s) URL
#define KINDLING_HTTP_TOO_LARGE -4     // response above KINDLING_OUTBOUND_MAX_RESPONSE_BYTES
#define KINDLING_HTTP_FAILED -5        // DNS, connection, TLS, too many redirects
#define KINDLING_HTTP_TIMEOUT -6       // ran past the call's deadline
#define KINDLING_HTTP_REQUEST_TOO_LARGE -7 // request body above KINDLING_OUTBOUND_MAX_REQUEST_BYTES

// Returns the HTTP status (or a negative code above) and writes the length of the response body
// (or of the error message, which starts with its KINDLING_ERR_* code) to *out_len.
__attribute__((import_module("kindling"), import_name("http_request"))) int32_t kindling_http_request(
    const char *method, int32_t method_len, const char *url, int32_t url_len, const char *headers, int32_t headers_len,
    const void *body, int32_t body_len, uint32_t *out_len);
// Copies up to len bytes of the last response body (or error message) from offset on; returns the count.
__attribute__((import_module("kindling"), import_name("http_response_read"))) int32_t kindling_http_response_read(void *ptr, int32_t offset, int32_t len);
#endif
