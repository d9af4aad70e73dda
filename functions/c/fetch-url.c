// fetch-url: fetches the URL in the request body with the kindling outbound HTTP import and answers
// with its status and body. Only URLs that com.kindling.outbound grants are fetched; any other is
// answered 403 with KINDLING_ERR_OUTBOUND_DENIED in the body (502 for other failures).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kindling-http.h"

int main(void) {
  char url[2048];
  size_t n = fread(url, 1, sizeof url - 1, stdin);
  while (n > 0 && (url[n - 1] == '\n' || url[n - 1] == '\r' || url[n - 1] == ' ')) n--;
  url[n] = 0;
  uint32_t len = 0;
  int32_t status = kindling_http_request("GET", 3, url, (int32_t)n, "", 0, "", 0, &len);
  char *body = malloc(len + 1);
  if (!body) return 1;
  int32_t got = kindling_http_response_read(body, 0, (int32_t)len);
  if (got < 0) got = 0;
  if (status < 0) {
    printf("Status: %d\nContent-Type: text/plain\n\n", status == KINDLING_HTTP_DENIED ? 403 : status == KINDLING_HTTP_TIMEOUT ? 504 : 502);
  } else {
    printf("Status: %d\nContent-Type: application/octet-stream\n\n", (int)status);
  }
  fwrite(body, 1, (size_t)got, stdout);
  return 0;
}
