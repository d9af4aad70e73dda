/*
 * The cost of each Linux container primitive, one by one (the paper's R10; SOCK ATC'18 §3).
 * Run as root:
 *
 *   primitives SAMPLES WORKDIR [MEMORY_CGROUP_ROOT]
 *
 * Every sample runs in a new child process (so namespaces and mounts never pile up in one
 * process), which sets up what the operation needs untimed, times the operation alone with the
 * monotonic clock and sends the time to the parent over a pipe. Prints one line per operation:
 *   <op> us=<t1>,<t2>,...        or        <op> error=<errno text>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static const char *work;
static const char *cgroot;
static int sample_no;

/* one operation: returns the µs it took, or a negative errno */
typedef double (*op_fn)(void);

static double timed_unshare(int flags) {
  double t0 = now_us();
  if (unshare(flags) < 0) return -errno;
  return now_us() - t0;
}
static double op_net(void) { return timed_unshare(CLONE_NEWNET); }
static double op_mnt(void) { return timed_unshare(CLONE_NEWNS); }
static double op_pid(void) { return timed_unshare(CLONE_NEWPID); }
static double op_uts(void) { return timed_unshare(CLONE_NEWUTS); }
static double op_ipc(void) { return timed_unshare(CLONE_NEWIPC); }
static double op_cgroupns(void) { return timed_unshare(CLONE_NEWCGROUP); }
static double op_all(void) { return timed_unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP); }

static char path_a[512], path_b[512], path_c[512], path_d[512];

/* a private mount namespace for the mount operations, untimed */
static int private_mounts(void) {
  if (unshare(CLONE_NEWNS) < 0) return -errno;
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return -errno;
  return 0;
}

static double op_tmpfs(void) {
  int e = private_mounts();
  if (e) return e;
  snprintf(path_a, sizeof path_a, "%s/m", work);
  double t0 = now_us();
  if (mount("tmpfs", path_a, "tmpfs", 0, "size=1m") < 0) return -errno;
  return now_us() - t0;
}

static double op_bind(void) {
  int e = private_mounts();
  if (e) return e;
  snprintf(path_a, sizeof path_a, "%s/lower", work);
  snprintf(path_b, sizeof path_b, "%s/m", work);
  double t0 = now_us();
  if (mount(path_a, path_b, NULL, MS_BIND | MS_REC, NULL) < 0) return -errno;
  return now_us() - t0;
}

static double op_overlay(void) {
  int e = private_mounts();
  if (e) return e;
  /* upper and work dirs on a tmpfs of this sample, so samples do not share them */
  snprintf(path_d, sizeof path_d, "%s/t", work);
  if (mount("tmpfs", path_d, "tmpfs", 0, "size=1m") < 0) return -errno;
  snprintf(path_a, sizeof path_a, "%s/t/u", work);
  snprintf(path_b, sizeof path_b, "%s/t/w", work);
  mkdir(path_a, 0755);
  mkdir(path_b, 0755);
  snprintf(path_c, sizeof path_c, "lowerdir=%s/lower,upperdir=%s,workdir=%s", work, path_a, path_b);
  snprintf(path_a, sizeof path_a, "%s/m", work);
  double t0 = now_us();
  if (mount("overlay", path_a, "overlay", 0, path_c) < 0) return -errno;
  return now_us() - t0;
}

static double op_pivot(void) {
  int e = private_mounts();
  if (e) return e;
  snprintf(path_a, sizeof path_a, "%s/m", work);
  if (mount("tmpfs", path_a, "tmpfs", 0, "size=1m") < 0) return -errno;
  snprintf(path_b, sizeof path_b, "%s/m/old", work);
  mkdir(path_b, 0755);
  if (chdir(path_a) < 0) return -errno;
  double t0 = now_us();
  if (syscall(SYS_pivot_root, ".", "old") < 0) return -errno;
  double t = now_us() - t0;
  return t;
}

static double op_chroot(void) {
  snprintf(path_a, sizeof path_a, "%s/lower", work);
  double t0 = now_us();
  if (chroot(path_a) < 0) return -errno;
  return now_us() - t0;
}

static double op_cg_create(void) {
  if (!cgroot) return -ENOENT;
  snprintf(path_a, sizeof path_a, "%s/kpaper-prim-%d-%d", cgroot, (int)getppid(), sample_no);
  double t0 = now_us();
  if (mkdir(path_a, 0755) < 0) return -errno;
  double t = now_us() - t0;
  rmdir(path_a);
  return t;
}

static double op_cg_remove(void) {
  if (!cgroot) return -ENOENT;
  snprintf(path_a, sizeof path_a, "%s/kpaper-prim-%d-%d", cgroot, (int)getppid(), sample_no);
  if (mkdir(path_a, 0755) < 0) return -errno;
  double t0 = now_us();
  if (rmdir(path_a) < 0) return -errno;
  return now_us() - t0;
}

/* joining a cgroup made ahead (SOCK: reusing cgroups), this process moved into it */
static double op_cg_join(void) {
  if (!cgroot) return -ENOENT;
  snprintf(path_a, sizeof path_a, "%s/kpaper-prim-%d-reuse/cgroup.procs", cgroot, (int)getppid());
  int fd = open(path_a, O_WRONLY);
  if (fd < 0) return -errno;
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%d", (int)getpid());
  double t0 = now_us();
  if (write(fd, pid, (size_t)len) < 0) return -errno;
  double t = now_us() - t0;
  close(fd);
  return t;
}

static double op_fork(void) {
  /* the baseline every sample pays outside its timed part: a fork, an exit and the wait */
  double t0 = now_us();
  pid_t p = fork();
  if (p == 0) _exit(0);
  if (p < 0) return -errno;
  waitpid(p, NULL, 0);
  return now_us() - t0;
}

static struct {
  const char *name;
  op_fn fn;
} OPS[] = {
    {"fork+exit+wait", op_fork},
    {"unshare(NEWNET)", op_net},
    {"unshare(NEWNS)", op_mnt},
    {"unshare(NEWPID)", op_pid},
    {"unshare(NEWUTS)", op_uts},
    {"unshare(NEWIPC)", op_ipc},
    {"unshare(NEWCGROUP)", op_cgroupns},
    {"unshare(all six)", op_all},
    {"mount tmpfs", op_tmpfs},
    {"bind mount", op_bind},
    {"overlayfs mount", op_overlay},
    {"pivot_root", op_pivot},
    {"chroot", op_chroot},
    {"cgroup mkdir (create)", op_cg_create},
    {"cgroup rmdir (remove)", op_cg_remove},
    {"cgroup join (reuse one made ahead)", op_cg_join},
};

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: primitives SAMPLES WORKDIR [MEMORY_CGROUP_ROOT]\n");
    return 2;
  }
  int n = atoi(argv[1]);
  work = argv[2];
  cgroot = argc > 3 ? argv[3] : NULL;
  char reuse[512];
  if (cgroot) {
    snprintf(reuse, sizeof reuse, "%s/kpaper-prim-%d-reuse", cgroot, (int)getpid());
    mkdir(reuse, 0755);
  }
  for (size_t o = 0; o < sizeof OPS / sizeof OPS[0]; o++) {
    printf("%s ", OPS[o].name);
    int bad = 0;
    for (int i = 0; i < n && !bad; i++) {
      int fds[2];
      if (pipe(fds) < 0) return 1;
      sample_no = i;
      pid_t p = fork();
      if (p == 0) {
        close(fds[0]);
        double r = OPS[o].fn();
        if (write(fds[1], &r, sizeof r) < 0) _exit(1);
        _exit(0);
      }
      close(fds[1]);
      double r = -EIO;
      if (read(fds[0], &r, sizeof r) != sizeof r) r = -EIO;
      close(fds[0]);
      waitpid(p, NULL, 0);
      if (r < 0) {
        printf("error=%s", strerror((int)-r));
        bad = 1;
      } else printf("%s%.2f", i ? "," : "us=", r);
    }
    printf("\n");
    fflush(stdout);
  }
  if (cgroot) rmdir(reuse);
  return 0;
}
