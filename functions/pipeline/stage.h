// Shared by the four stages of the image pipeline (paper R9, after SAND's image-processing
// application): the request is one text line of metadata, "PIPE1 key=value ...\n", followed by
// the image, a binary PPM (P6, 8-bit RGB). The first stage takes a bare PPM. Each stage adds its
// own compute time, t<stage>=<ns> (monotonic clock, from after reading the request to before
// writing the response), so the last response carries every stage's compute time (TC).
// Built for wasm32-wasi (kindling) and natively (containers) from the same source.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  unsigned char *data;
  size_t len;
} buf_t;

static buf_t read_all(void) {
  buf_t b = {0, 0};
  size_t cap = 1 << 16;
  b.data = malloc(cap);
  size_t n;
  while (b.data && (n = fread(b.data + b.len, 1, cap - b.len, stdin)) > 0) {
    b.len += n;
    if (b.len == cap) {
      cap *= 2;
      b.data = realloc(b.data, cap);
    }
  }
  return b;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/** Splits the request into its metadata line (without "\n"; empty when there is none) and the image. */
static void split_request(buf_t req, char *meta, size_t metaCap, buf_t *image) {
  meta[0] = 0;
  *image = req;
  if (req.len < 6 || memcmp(req.data, "PIPE1 ", 6) != 0) return;
  unsigned char *nl = memchr(req.data, '\n', req.len);
  if (!nl) return;
  size_t n = (size_t)(nl - req.data);
  if (n >= metaCap) n = metaCap - 1;
  memcpy(meta, req.data, n);
  meta[n] = 0;
  image->data = nl + 1;
  image->len = req.len - (size_t)(nl + 1 - req.data);
}

/** The value of " key=" in the metadata line, or def (64-bit: long is 32 bits on wasm32). */
static long long meta_get(const char *meta, const char *key, long long def) {
  char pat[32];
  snprintf(pat, sizeof pat, " %s=", key);
  const char *p = strstr(meta, pat);
  return p ? strtoll(p + strlen(pat), NULL, 10) : def;
}

typedef struct {
  int w, h, maxval;
  const unsigned char *px;
  size_t bytes;
} ppm_t;

static int skip_ws_comments(const unsigned char *d, size_t len, size_t i) {
  while (i < len) {
    if (d[i] == '#') {
      while (i < len && d[i] != '\n') i++;
    } else if (d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t') {
      i++;
    } else {
      break;
    }
  }
  return (int)i;
}

/** Parses a binary PPM; 0 on success. */
static int parse_ppm(buf_t img, ppm_t *out) {
  const unsigned char *d = img.data;
  size_t len = img.len, i = 2;
  if (len < 2 || d[0] != 'P' || d[1] != '6') return -1;
  long v[3];
  for (int k = 0; k < 3; k++) {
    i = (size_t)skip_ws_comments(d, len, i);
    long x = 0;
    int digits = 0;
    while (i < len && d[i] >= '0' && d[i] <= '9') {
      x = x * 10 + (d[i++] - '0');
      digits++;
    }
    if (!digits) return -1;
    v[k] = x;
  }
  i++; // the single whitespace before the pixels
  out->w = (int)v[0];
  out->h = (int)v[1];
  out->maxval = (int)v[2];
  out->px = d + i;
  out->bytes = (size_t)out->w * (size_t)out->h * 3;
  if (out->maxval != 255 || i + out->bytes > len) return -1;
  return 0;
}

/** Writes the metadata line with this stage's time appended, then a PPM of w x h pixels. */
static void write_response(const char *meta, const char *added, int w, int h, const unsigned char *px) {
  printf("PIPE1%s%s%s\nP6\n%d %d\n255\n", meta[0] ? meta + 5 : "", added[0] ? " " : "", added, w, h);
  fwrite(px, 1, (size_t)w * (size_t)h * 3, stdout);
  fflush(stdout);
}

static int fail(const char *why) {
  fprintf(stderr, "pipeline stage: %s\n", why);
  return 1;
}
