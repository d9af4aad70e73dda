// sha512sum: prints the SHA-512 of the request body as "<hex>  -", like coreutils reading stdin
// (the certifier's functions/alpine with fprocess sha512sum).
#include <stdio.h>
#include "sha.h"

int main(void) {
  sha512_ctx c;
  uint8_t buf[16384], out[64];
  size_t n;
  sha512_init(&c);
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) sha512_update(&c, buf, n);
  sha512_final(&c, out);
  for (int i = 0; i < 64; i++) printf("%02x", out[i]);
  printf("  -\n");
  return 0;
}
