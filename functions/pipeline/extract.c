// Pipeline stage 1, extract metadata: the image's size, a checksum (FNV-1a) and its mean
// brightness, added to the metadata line; the image passes on unchanged.
#include "stage.h"

int main(void) {
  buf_t req = read_all();
  uint64_t t0 = now_ns();
  char meta[1024];
  buf_t img;
  split_request(req, meta, sizeof meta, &img);
  ppm_t p;
  if (parse_ppm(img, &p)) return fail("extract: not a binary 8-bit PPM");
  uint32_t h = 2166136261u;
  uint64_t sum = 0;
  for (size_t i = 0; i < p.bytes; i++) {
    h = (h ^ p.px[i]) * 16777619u;
    sum += p.px[i];
  }
  char added[256];
  uint64_t t = now_ns() - t0;
  snprintf(added, sizeof added, "w=%d h=%d sum=%u mean=%u t1=%llu", p.w, p.h, h, (unsigned)(sum / (p.bytes ? p.bytes : 1)), (unsigned long long)t);
  write_response(meta, added, p.w, p.h, p.px);
  return 0;
}
