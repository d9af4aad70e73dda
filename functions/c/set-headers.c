// set-headers: sets response headers through the kindling import (kindling-response.h), with no CGI
// header block. Each request body line "Name: value" becomes a header of the answer; the body
// answers one line per header, "name -> 0" when it was set or the negative code that refused it.
#include <stdio.h>
#include <string.h>
#include "kindling-response.h"

int main(void) {
  char line[4096];
  while (fgets(line, sizeof line, stdin)) {
    size_t n = strcspn(line, "\r\n");
    line[n] = 0;
    char *colon = strchr(line, ':');
    if (n == 0 || !colon) continue;
    char *value = colon + 1;
    while (*value == ' ') value++;
    int32_t code = kindling_response_header_set(line, (int32_t)(colon - line), value, (int32_t)strlen(value));
    printf("%.*s -> %d\n", (int)(colon - line), line, (int)code);
  }
  return 0;
}
