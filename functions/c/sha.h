// SHA-256 and SHA-512 (FIPS 180-4), small and portable, for the example functions.
#ifndef KINDLING_SHA_H
#define KINDLING_SHA_H
#include <stddef.h>
#include <stdint.h>

typedef struct { uint32_t h[8]; uint64_t len; uint8_t buf[64]; size_t n; } sha256_ctx;
typedef struct { uint64_t h[8]; uint64_t len; uint8_t buf[128]; size_t n; } sha512_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const uint8_t *p, size_t len);
void sha256_final(sha256_ctx *c, uint8_t out[32]);
void sha512_init(sha512_ctx *c);
void sha512_update(sha512_ctx *c, const uint8_t *p, size_t len);
void sha512_final(sha512_ctx *c, uint8_t out[64]);
#endif
