// Pipeline stage 4, the thumbnail: a box-filter downscale to the size stage 2 chose.
#include "stage.h"

int main(void) {
  buf_t req = read_all();
  uint64_t t0 = now_ns();
  char meta[1024];
  buf_t img;
  split_request(req, meta, sizeof meta, &img);
  ppm_t p;
  if (parse_ppm(img, &p)) return fail("thumbnail: not a binary 8-bit PPM");
  int tw = (int)meta_get(meta, "tw", 0), th = (int)meta_get(meta, "th", 0);
  if (tw <= 0 || th <= 0 || tw > p.w || th > p.h) return fail("thumbnail: no thumbnail size in the metadata (tw, th)");
  unsigned char *out = malloc((size_t)tw * th * 3);
  if (!out) return fail("thumbnail: out of memory");
  for (int ty = 0; ty < th; ty++) {
    int y0 = ty * p.h / th, y1 = (ty + 1) * p.h / th;
    for (int tx = 0; tx < tw; tx++) {
      int x0 = tx * p.w / tw, x1 = (tx + 1) * p.w / tw;
      for (int c = 0; c < 3; c++) {
        unsigned s = 0, n = 0;
        for (int y = y0; y < y1; y++)
          for (int x = x0; x < x1; x++, n++) s += p.px[((size_t)y * p.w + x) * 3 + c];
        out[((size_t)ty * tw + tx) * 3 + c] = (unsigned char)(n ? s / n : 0);
      }
    }
  }
  char added[64];
  uint64_t t = now_ns() - t0;
  snprintf(added, sizeof added, "thumb=1 t4=%llu", (unsigned long long)t);
  write_response(meta, added, tw, th, out);
  return 0;
}
