// Pipeline stage 3, the handler: the image work proper, a 3x3 box blur of every channel (edges
// clamped), twice.
#include "stage.h"

static void blur(const unsigned char *src, unsigned char *dst, int w, int h) {
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      for (int c = 0; c < 3; c++) {
        int s = 0;
        for (int dy = -1; dy <= 1; dy++) {
          int yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
          for (int dx = -1; dx <= 1; dx++) {
            int xx = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
            s += src[((size_t)yy * w + xx) * 3 + c];
          }
        }
        dst[((size_t)y * w + x) * 3 + c] = (unsigned char)(s / 9);
      }
    }
  }
}

int main(void) {
  buf_t req = read_all();
  uint64_t t0 = now_ns();
  char meta[1024];
  buf_t img;
  split_request(req, meta, sizeof meta, &img);
  ppm_t p;
  if (parse_ppm(img, &p)) return fail("handler: not a binary 8-bit PPM");
  unsigned char *a = malloc(p.bytes), *b = malloc(p.bytes);
  if (!a || !b) return fail("handler: out of memory");
  blur(p.px, a, p.w, p.h);
  blur(a, b, p.w, p.h);
  char added[64];
  uint64_t t = now_ns() - t0;
  snprintf(added, sizeof added, "blurred=2 t3=%llu", (unsigned long long)t);
  write_response(meta, added, p.w, p.h, b);
  return 0;
}
