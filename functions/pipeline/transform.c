// Pipeline stage 2, verify and transform the metadata: checks the size and checksum stage 1
// recorded against the image, and works out the thumbnail's size (at most 32 pixels a side,
// aspect kept).
#include "stage.h"

int main(void) {
  buf_t req = read_all();
  uint64_t t0 = now_ns();
  char meta[1024];
  buf_t img;
  split_request(req, meta, sizeof meta, &img);
  ppm_t p;
  if (parse_ppm(img, &p)) return fail("transform: not a binary 8-bit PPM");
  if (meta_get(meta, "w", -1) != p.w || meta_get(meta, "h", -1) != p.h) return fail("transform: size does not match the metadata");
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < p.bytes; i++) h = (h ^ p.px[i]) * 16777619u;
  if ((uint32_t)meta_get(meta, "sum", -1) != h) return fail("transform: checksum does not match the metadata");
  int tw = 32, th = 32;
  if (p.w >= p.h) th = p.h * 32 / p.w > 0 ? p.h * 32 / p.w : 1;
  else tw = p.w * 32 / p.h > 0 ? p.w * 32 / p.h : 1;
  char added[128];
  uint64_t t = now_ns() - t0;
  snprintf(added, sizeof added, "verified=1 tw=%d th=%d t2=%llu", tw, th, (unsigned long long)t);
  write_response(meta, added, p.w, p.h, p.px);
  return 0;
}
