/*
 * A native fork server for the paper's R7 (SAND ATC'18: a grain worker that has loaded its
 * function forks a process per call). Node cannot fork a warmed process, so this stands in for
 * SAND's fastest rung: a process that warmed up once (WARM_MIB of heap touched, as a loaded
 * runtime would have) forks a child per connection; the child answers and exits.
 *
 *   forkserver SOCKET_PATH WARM_MIB
 *
 * Prints "ready\n" on stdout once listening. Per connection: fork; the child reads the request
 * (up to a newline), writes "ok <pid>\n" and exits; the parent closes its copy and goes on.
 * Children are reaped by the kernel (SIGCHLD ignored). Runs until killed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: forkserver SOCKET_PATH WARM_MIB\n");
    return 2;
  }
  size_t warm = (size_t)atoi(argv[2]) << 20;
  /* the warmed state every child inherits: touched heap pages (copy-on-write after fork) */
  volatile char *heap = warm ? malloc(warm) : NULL;
  for (size_t i = 0; i < warm; i += 4096) heap[i] = (char)i;
  signal(SIGCHLD, SIG_IGN);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {0};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, argv[1], sizeof(addr.sun_path) - 1);
  unlink(argv[1]);
  if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 128) < 0) {
    perror("forkserver: listen");
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    pid_t pid = fork();
    if (pid == 0) {
      close(s);
      char buf[256];
      ssize_t n = read(c, buf, sizeof buf);
      (void)n;
      char out[64];
      int len = snprintf(out, sizeof out, "ok %d %d\n", (int)getpid(), warm ? heap[4096] : 0);
      if (write(c, out, (size_t)len) < 0) _exit(1);
      _exit(0);
    }
    close(c);
  }
}
