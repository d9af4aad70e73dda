/*
 * PolyBench-style kernels for the paper's R6 (Faasm ATC'20 Fig. 9: compute overhead of
 * WebAssembly against native code on the same kernels). Written here after the PolyBench/C
 * kernel definitions (gemm, 2mm, atax, jacobi-2d, seidel-2d), not copied from it. The same source
 * is compiled natively and to wasm32-wasi by paper/experiments/r6-polybench.ts.
 *
 *   kernels <name> <n> <reps>
 *
 * Initialises the data deterministically, runs the kernel once untimed (so that a JIT has tiered
 * up), then <reps> timed runs, each with the monotonic clock around the kernel only, and prints
 *   <name> n=<n> checksum=<c> us=<t1>,<t2>,...
 * The checksum (of the output array) shows both builds computed the same thing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double *alloc2(int n, int m) {
  double *p = malloc(sizeof(double) * (size_t)n * (size_t)m);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

#define AT(a, cols, i, j) a[(size_t)(i) * (cols) + (j)]

static int N;
static double *A, *B, *C, *D, *T, *x, *y, *tmp;

static void init(const char *name) {
  int n = N;
  A = alloc2(n, n); B = alloc2(n, n); C = alloc2(n, n); D = alloc2(n, n); T = alloc2(n, n);
  x = alloc2(n, 1); y = alloc2(n, 1); tmp = alloc2(n, 1);
  for (int i = 0; i < n; i++) {
    x[i] = 1 + (double)i / n;
    for (int j = 0; j < n; j++) {
      AT(A, n, i, j) = (double)((i * j + 1) % n) / n;
      AT(B, n, i, j) = (double)((i * (j + 1) + 2) % n) / n;
      AT(C, n, i, j) = (double)((i * (j + 3) + 1) % n) / n;
      AT(D, n, i, j) = (double)((i * (j + 2)) % n) / n;
    }
  }
  (void)name;
}

/* C := alpha*A*B + beta*C */
static void gemm(void) {
  const double alpha = 1.5, beta = 1.2;
  for (int i = 0; i < N; i++) {
    for (int j = 0; j < N; j++) AT(C, N, i, j) *= beta;
    for (int k = 0; k < N; k++)
      for (int j = 0; j < N; j++) AT(C, N, i, j) += alpha * AT(A, N, i, k) * AT(B, N, k, j);
  }
}

/* D := alpha*A*B*C + beta*D */
static void mm2(void) {
  const double alpha = 1.5, beta = 1.2;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < N; k++) s += alpha * AT(A, N, i, k) * AT(B, N, k, j);
      AT(T, N, i, j) = s;
    }
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double s = AT(D, N, i, j) * beta;
      for (int k = 0; k < N; k++) s += AT(T, N, i, k) * AT(C, N, k, j);
      AT(D, N, i, j) = s;
    }
}

/* y := A^T (A x) */
static void atax(void) {
  for (int i = 0; i < N; i++) y[i] = 0;
  for (int i = 0; i < N; i++) {
    double s = 0;
    for (int j = 0; j < N; j++) s += AT(A, N, i, j) * x[j];
    tmp[i] = s;
    for (int j = 0; j < N; j++) y[j] += AT(A, N, i, j) * s;
  }
}

/* 5-point Jacobi stencil, 20 time steps, between A and B */
static void jacobi2d(void) {
  for (int t = 0; t < 20; t++) {
    for (int i = 1; i < N - 1; i++)
      for (int j = 1; j < N - 1; j++) AT(B, N, i, j) = 0.2 * (AT(A, N, i, j) + AT(A, N, i, j - 1) + AT(A, N, i, j + 1) + AT(A, N, i + 1, j) + AT(A, N, i - 1, j));
    for (int i = 1; i < N - 1; i++)
      for (int j = 1; j < N - 1; j++) AT(A, N, i, j) = 0.2 * (AT(B, N, i, j) + AT(B, N, i, j - 1) + AT(B, N, i, j + 1) + AT(B, N, i + 1, j) + AT(B, N, i - 1, j));
  }
}

/* 9-point Gauss-Seidel stencil in place, 20 time steps */
static void seidel2d(void) {
  for (int t = 0; t < 20; t++)
    for (int i = 1; i <= N - 2; i++)
      for (int j = 1; j <= N - 2; j++)
        AT(A, N, i, j) = (AT(A, N, i - 1, j - 1) + AT(A, N, i - 1, j) + AT(A, N, i - 1, j + 1) + AT(A, N, i, j - 1) + AT(A, N, i, j) + AT(A, N, i, j + 1) + AT(A, N, i + 1, j - 1) + AT(A, N, i + 1, j) + AT(A, N, i + 1, j + 1)) / 9.0;
}

static double checksum(const double *p, size_t len) {
  double s = 0;
  for (size_t i = 0; i < len; i++) s += p[i] * (double)((i % 7) + 1);
  return s;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: kernels gemm|2mm|atax|jacobi-2d|seidel-2d N REPS\n");
    return 2;
  }
  const char *name = argv[1];
  N = atoi(argv[2]);
  int reps = atoi(argv[3]);
  void (*kernel)(void);
  size_t outLen = (size_t)N * N;
  if (!strcmp(name, "gemm")) kernel = gemm;
  else if (!strcmp(name, "2mm")) kernel = mm2;
  else if (!strcmp(name, "atax")) kernel = atax;
  else if (!strcmp(name, "jacobi-2d")) kernel = jacobi2d;
  else if (!strcmp(name, "seidel-2d")) kernel = seidel2d;
  else {
    fprintf(stderr, "unknown kernel %s\n", name);
    return 2;
  }
  printf("%s n=%d", name, N);
  double cs = 0;
  for (int r = -1; r < reps; r++) {
    init(name);
    double t0 = now_us();
    kernel();
    double t1 = now_us();
    const double *res = !strcmp(name, "gemm") ? C : !strcmp(name, "2mm") ? D : !strcmp(name, "atax") ? y : A;
    cs = checksum(res, !strcmp(name, "atax") ? (size_t)N : outLen);
    if (r == -1) printf(" checksum=%.6e us=", cs);
    else printf("%s%.1f", r ? "," : "", t1 - t0);
    free(A); free(B); free(C); free(D); free(T); free(x); free(y); free(tmp);
  }
  printf("\n");
  return 0;
}
