// The kindling response-header import for C (wasm32-wasi), documented in
// isolation/wasm/host/response-headers.ts: sets a header of the call's answer without a CGI header
// block (a CGI block and this import may be used together; this import's headers win).
#ifndef KINDLING_RESPONSE_H
#define KINDLING_RESPONSE_H
#include <stdint.h>

// negative results of kindling_response_header_set (KINDLING_ERR_RESPONSE_HEADER)
#define KINDLING_HEADER_BAD_ARGUMENTS -1 // a pointer or length outside memory
#define KINDLING_HEADER_INVALID_NAME -2  // the name is not an HTTP token
#define KINDLING_HEADER_INVALID_VALUE -3 // the value holds CR, LF or another control character
#define KINDLING_HEADER_RESERVED -4      // hop-by-hop, content-length, status, x-call-id, x-kindling-* ...
#define KINDLING_HEADER_TOO_MANY -5      // more than 64 headers or 16 KiB in one answer

// Sets header `name` (case-insensitive) to `value` for this call only; an earlier value of the same
// name is replaced (Set-Cookie accumulates). Returns 0, or a negative code above.
__attribute__((import_module("kindling"), import_name("response_header_set"))) int32_t kindling_response_header_set(
    const char *name, int32_t name_len, const char *value, int32_t value_len);
#endif
