// read-secret: prints the secret named in the query string (?name), read from
// /var/openfaas/secrets/<name> like an OpenFaaS function reads its mounted secrets.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  const char *name = getenv("QUERY_STRING");
  if (!name || !*name || strchr(name, '/')) {
    fprintf(stderr, "usage: ?<secret name>\n");
    return 2;
  }
  char path[512];
  snprintf(path, sizeof path, "/var/openfaas/secrets/%s", name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return 1;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
  fclose(f);
  return 0;
}
