// The image pipeline in one application (paper R9): runs the four stages one after another with
// kindling.call, each stage's response the next one's request, and answers with the last one.
// The stages are functions of the same application named pl-extract, pl-transform, pl-handler
// and pl-thumbnail; each runs in a sandbox of its own, in the same process as this one.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((import_module("kindling"), import_name("call"))) int32_t kindling_call(const char *name, int32_t nameLen, const void *body, int32_t bodyLen, void *out, int32_t outCap, uint32_t *outLen);
__attribute__((import_module("kindling"), import_name("result_read"))) int32_t kindling_result_read(void *ptr, int32_t offset, int32_t len);

static const char *STAGES[] = {"pl-extract", "pl-transform", "pl-handler", "pl-thumbnail"};

typedef struct {
  unsigned char *p;
  size_t len, cap;
} bytes_t;

static int reserve(bytes_t *b, size_t cap) {
  if (b->cap >= cap) return 0;
  unsigned char *p = realloc(b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

int main(void) {
  bytes_t req = {0, 0, 0}, res = {0, 0, 0};
  size_t n;
  if (reserve(&req, 1 << 18)) return 1;
  while ((n = fread(req.p + req.len, 1, req.cap - req.len, stdin)) > 0) {
    req.len += n;
    if (req.len == req.cap && reserve(&req, req.cap * 2)) return 1;
  }
  for (int i = 0; i < 4; i++) {
    const char *name = STAGES[i];
    int32_t nameLen = 0;
    while (name[nameLen]) nameLen++;
    // a stage's response is about as long as its request (the thumbnail is shorter)
    if (reserve(&res, req.len + 4096)) return 1;
    uint32_t outLen = 0;
    int32_t status = kindling_call(name, nameLen, req.p, (int32_t)req.len, res.p, (int32_t)res.cap, &outLen);
    if (status != 200) {
      fprintf(stderr, "%s answered %d\n", name, (int)status);
      if (status > 0) fwrite(res.p, 1, outLen < res.cap ? outLen : res.cap, stderr);
      return 1;
    }
    if (outLen > res.cap) {
      if (reserve(&res, outLen)) return 1;
      kindling_result_read(res.p, 0, (int32_t)outLen);
    }
    res.len = outLen;
    // this stage's response is the next stage's request
    bytes_t t = req;
    req = res;
    res = t;
  }
  fwrite(req.p, 1, req.len, stdout);
  return 0;
}
