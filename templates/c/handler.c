// {{NAME}}: a kindling function in C (a WASI command). The request body arrives on stdin; what the
// program writes to stdout is the response body. Build: kindling build {{NAME}}; deploy: kindling up.
#include <stdio.h>

int main(void) {
  char buf[4096];
  size_t n;
  fputs("Hello from {{NAME}} (C)! You sent: ", stdout);
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
  fputs("\n", stdout);
  return 0;
}
