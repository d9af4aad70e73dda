// call-timer (paper R8, SAND's function interaction): one function calling another, timed inside
// the caller. The first line of the body is "<path> <target> <n>", the rest is the callee's body:
//   local  <function> <n>   kindling.call of a function of the same application (in-process)
//   global <url> <n>        a POST to the URL with the kindling outbound HTTP import (the
//                           gateway's /function/<name>: the platform's front door)
// It makes n calls one after another, each timed with the monotonic clock from just before the
// import is called to just after it returns, and answers "OK <ns> <ns> ...", or a 502 whose body
// is "ERROR ...". The URL must be granted by com.kindling.outbound.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kindling-http.h"

__attribute__((import_module("kindling"), import_name("call"))) int32_t kindling_call(const char *name, int32_t nameLen, const void *body, int32_t bodyLen, void *out, int32_t outCap, uint32_t *outLen);

#define MAX_CALLS 1000

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(void) {
  static char req[65536];
  static char out[65536];
  static uint64_t took[MAX_CALLS];
  size_t n = fread(req, 1, sizeof req - 1, stdin);
  req[n] = 0;
  char *nl = strchr(req, '\n');
  const char *body = nl ? nl + 1 : "";
  int32_t bodyLen = nl ? (int32_t)(n - (size_t)(nl + 1 - req)) : 0;
  if (nl) *nl = 0;
  char path[16], target[1024];
  int calls = 0;
  if (sscanf(req, "%15s %1023s %d", path, target, &calls) != 3 || calls < 1 || calls > MAX_CALLS) {
    printf("Status: 400\nContent-Type: text/plain\n\nERROR the first line must be \"local|global <target> <n>\" with 1 <= n <= %d\n", MAX_CALLS);
    return 0;
  }
  int global = strcmp(path, "global") == 0;
  if (!global && strcmp(path, "local") != 0) {
    printf("Status: 400\nContent-Type: text/plain\n\nERROR unknown path %s (local or global)\n", path);
    return 0;
  }
  int32_t targetLen = (int32_t)strlen(target);
  for (int i = 0; i < calls; i++) {
    uint32_t len = 0;
    uint64_t t0 = now_ns();
    int32_t status = global ? kindling_http_request("POST", 4, target, targetLen, "Content-Type: text/plain", 24, body, bodyLen, &len)
                            : kindling_call(target, targetLen, body, bodyLen, out, (int32_t)sizeof out, &len);
    took[i] = now_ns() - t0;
    if (status != 200) {
      int32_t got = 0;
      if (global) got = kindling_http_response_read(out, 0, (int32_t)(len < sizeof out ? len : sizeof out));
      else if (status > 0) got = (int32_t)(len < sizeof out ? len : sizeof out);
      printf("Status: 502\nContent-Type: text/plain\n\nERROR call %d to %s answered %d: %.*s\n", i, target, (int)status, got > 0 ? (int)got : 0, out);
      return 0;
    }
  }
  fputs("Content-Type: text/plain\n\nOK", stdout);
  for (int i = 0; i < calls; i++) printf(" %llu", (unsigned long long)took[i]);
  putchar('\n');
  return 0;
}
