// One stage of the image pipeline (paper R9) as a long-running HTTP server: the warm container
// of a platform such as OpenWhisk, which keeps its action loaded and runs each request in the
// same process. Built natively, one binary per stage, from the stage's own source:
//   clang -O2 -static -DSTAGE_FILE='"extract.c"' pipeline/stage-server.c -o extract-server
// It listens on the Unix socket named by KINDLING_HTTP_SOCKET (kindling's container tier in HTTP
// mode sets it) or by its first argument, answers every POST with the stage's response (the
// request body is the stage's stdin, its stdout the response body), keeps connections alive, and
// serves several connections with poll(2). The stage's allocations come from an arena that is
// reset after each request, so that a stage written for one run per process does not leak.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ARENA_BYTES (64u << 20)
static unsigned char *arena;
static size_t arena_used;

/** 16-byte header before every block: its size, for realloc. */
static void *arena_malloc(size_t n) {
  size_t need = ((n + 15) & ~(size_t)15) + 16;
  if (arena_used + need > ARENA_BYTES) return NULL;
  unsigned char *p = arena + arena_used;
  *(size_t *)p = n;
  arena_used += need;
  return p + 16;
}

static void *arena_realloc(void *old, size_t n) {
  if (!old) return arena_malloc(n);
  unsigned char *h = (unsigned char *)old - 16;
  size_t had = *(size_t *)h;
  // the last block grows in place
  if (h + 16 + ((had + 15) & ~(size_t)15) == arena + arena_used) {
    size_t need = ((n + 15) & ~(size_t)15) + 16;
    if ((size_t)(h - arena) + need > ARENA_BYTES) return NULL;
    arena_used = (size_t)(h - arena) + need;
    *(size_t *)h = n;
    return old;
  }
  void *p = arena_malloc(n);
  if (p) memcpy(p, old, had < n ? had : n);
  return p;
}

__attribute__((unused)) static void *arena_calloc(size_t a, size_t b) {
  void *p = arena_malloc(a * b);
  if (p) memset(p, 0, a * b);
  return p;
}

__attribute__((unused)) static void arena_free(void *p) { (void)p; }

// the stage's source, with its allocations in the arena and its main renamed
#define malloc arena_malloc
#define realloc arena_realloc
#define calloc arena_calloc
#define free arena_free
#define main stage_main
#include STAGE_FILE
#undef malloc
#undef realloc
#undef calloc
#undef free
#undef main

#define MAX_CONNS 64
#define MAX_HEAD 16384

typedef struct {
  int fd;
  char *buf;
  size_t len, cap;
} conn_t;

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

static int respond(int fd, int status, const char *reason, const void *body, size_t len, int keep) {
  char head[256];
  int h = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n", status, reason, len,
                   keep ? "keep-alive" : "close");
  if (write_all(fd, head, (size_t)h)) return -1;
  return len ? write_all(fd, body, len) : 0;
}

/** Runs the stage on one body: 0 and the response, or -1. */
static int run_stage(const char *body, size_t len, char **out, size_t *outLen) {
  if (!len) return -1;
  FILE *in = fmemopen((void *)body, len, "r");
  FILE *o = open_memstream(out, outLen);
  if (!in || !o) return -1;
  FILE *savedIn = stdin, *savedOut = stdout;
  stdin = in;
  stdout = o;
  arena_used = 0;
  int rc = stage_main();
  fflush(o);
  stdin = savedIn;
  stdout = savedOut;
  fclose(in);
  fclose(o);
  return rc == 0 ? 0 : -1;
}

/** The value of a header in the block [head, end), or NULL. */
static const char *header(const char *head, const char *end, const char *name) {
  size_t n = strlen(name);
  for (const char *p = head; p < end; p++) {
    if ((p == head || p[-1] == '\n') && (size_t)(end - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
      p += n + 1;
      while (*p == ' ' || *p == '\t') p++;
      return p;
    }
  }
  return NULL;
}

/** Serves every complete request in the connection's buffer; -1 closes the connection. */
static int serve(conn_t *c) {
  for (;;) {
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end) return c->len > MAX_HEAD ? -1 : 0;
    size_t headLen = (size_t)(end - c->buf) + 4;
    const char *te = header(c->buf, end, "Transfer-Encoding");
    if (te && strncasecmp(te, "identity", 8) != 0) {
      respond(c->fd, 411, "Length Required", NULL, 0, 0);
      return -1;
    }
    const char *cl = header(c->buf, end, "Content-Length");
    size_t bodyLen = cl ? strtoull(cl, NULL, 10) : 0;
    if (c->len < headLen + bodyLen) {
      if (headLen + bodyLen > c->cap) {
        char *b = realloc(c->buf, headLen + bodyLen);
        if (!b) return -1;
        c->buf = b;
        c->cap = headLen + bodyLen;
      }
      return 0;
    }
    const char *conn = header(c->buf, end, "Connection");
    int keep = !(conn && strncasecmp(conn, "close", 5) == 0);
    char *out = NULL;
    size_t outLen = 0;
    int ok = run_stage(c->buf + headLen, bodyLen, &out, &outLen) == 0;
    int w = ok ? respond(c->fd, 200, "OK", out, outLen, keep) : respond(c->fd, 500, "Internal Server Error", "stage failed\n", 13, keep);
    free(out);
    memmove(c->buf, c->buf + headLen + bodyLen, c->len - headLen - bodyLen);
    c->len -= headLen + bodyLen;
    if (w || !keep) return -1;
  }
}

int main(int argc, char **argv) {
  const char *path = getenv("KINDLING_HTTP_SOCKET");
  if (argc > 1) path = argv[1];
  if (!path || !*path) {
    fprintf(stderr, "stage-server: no socket (KINDLING_HTTP_SOCKET or the first argument)\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  arena = malloc(ARENA_BYTES);
  if (!arena) return 1;
  int ls = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof a.sun_path) return 2;
  strcpy(a.sun_path, path);
  unlink(path);
  if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 64)) {
    perror("stage-server: listen");
    return 1;
  }
  struct pollfd fds[MAX_CONNS + 1];
  conn_t conns[MAX_CONNS];
  int n = 0;
  for (;;) {
    fds[0] = (struct pollfd){.fd = ls, .events = POLLIN};
    for (int i = 0; i < n; i++) fds[i + 1] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
    if (poll(fds, (nfds_t)n + 1, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    for (int i = n - 1; i >= 0; i--) {
      if (!(fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      conn_t *c = &conns[i];
      if (c->cap - c->len < 65536) {
        char *b = realloc(c->buf, c->cap * 2 + 65536);
        if (b) {
          c->buf = b;
          c->cap = c->cap * 2 + 65536;
        }
      }
      ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
      if (r > 0) c->len += (size_t)r;
      if (r <= 0 || serve(c) < 0) {
        close(c->fd);
        free(c->buf);
        conns[i] = conns[--n];
      }
    }
    if (fds[0].revents & POLLIN) {
      int fd = accept(ls, NULL, NULL);
      if (fd >= 0 && n < MAX_CONNS) conns[n++] = (conn_t){.fd = fd, .buf = NULL, .len = 0, .cap = 0};
      else if (fd >= 0) close(fd);
    }
  }
}
