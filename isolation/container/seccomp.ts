// The default seccomp profile of every container (OCI linux.seccomp). Written for kindling from the
// system calls' meaning, to the effect of Docker's default profile for a container without
// capabilities: everything is allowed except what reaches into the kernel beyond one process tree.
// A deny-list, so ordinary programs (busybox, node, libc) need nothing listed; every denied call
// fails with EPERM, as a missing capability would, except clone3, which fails with ENOSYS so that
// libc falls back to clone, whose flags can be inspected (clone3's are behind a pointer).
import os from 'node:os'

const EPERM = 1
const ENOSYS = 38

/** Calls no function needs. Grouped by why. */
export const DENIED_SYSCALLS: readonly string[] = [
  // new namespaces and joining others' (clone is handled by its flags below)
  'unshare', 'setns',
  // filesystems and mount points: the old and the new mount API
  'mount', 'umount', 'umount2', 'pivot_root', 'chroot', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount', 'open_tree', 'mount_setattr',
  // the kernel keyring is not namespaced
  'keyctl', 'add_key', 'request_key',
  // eBPF programs, performance counters, userfaultfd (a tool for kernel exploits), io_uring (bypasses seccomp per operation)
  'bpf', 'perf_event_open', 'userfaultfd', 'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  // other processes' memory and descriptors
  'ptrace', 'process_vm_readv', 'process_vm_writev', 'process_madvise', 'kcmp', 'pidfd_getfd',
  // file handles open any file of a filesystem, past the mount namespace
  'open_by_handle_at', 'name_to_handle_at',
  // the machine: modules, kexec, reboot, swap, accounting, clocks, quotas, host names, kernel log
  'init_module', 'finit_module', 'delete_module', 'create_module', 'get_kernel_syms', 'query_module',
  'kexec_load', 'kexec_file_load', 'reboot', 'swapon', 'swapoff', 'acct',
  'settimeofday', 'clock_settime', 'clock_adjtime', 'stime', 'quotactl', 'quotactl_fd', 'sethostname', 'setdomainname',
  'syslog', 'lookup_dcookie', 'fanotify_init', 'nfsservctl', 'vhangup', 'uselib', 'ustat', 'sysfs', '_sysctl',
  // x86 hardware ports and segment tables
  'iopl', 'ioperm', 'modify_ldt', 'vm86', 'vm86old',
]

const CLONE_NEWNS = 0x00020000
const CLONE_NEWCGROUP = 0x02000000
const CLONE_NEWUTS = 0x04000000
const CLONE_NEWIPC = 0x08000000
const CLONE_NEWUSER = 0x10000000
const CLONE_NEWPID = 0x20000000
const CLONE_NEWNET = 0x40000000
export const CLONE_NAMESPACE_FLAGS = [CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET]

// personality(2) bits that weaken the process (no ASLR, executable data, page 0 mapped, ...);
// PER_LINUX, PER_LINUX32, UNAME26 and the 0xffffffff query stay allowed, as in Docker's profile.
const PERSONALITY_RISKY = [0x0040000 /* ADDR_NO_RANDOMIZE */, 0x0080000 /* FDPIC_FUNCPTRS */, 0x0100000 /* MMAP_PAGE_ZERO */, 0x0200000 /* ADDR_COMPAT_LAYOUT */, 0x0400000 /* READ_IMPLIES_EXEC */, 0x0800000 /* ADDR_LIMIT_32BIT */, 0x1000000 /* SHORT_INODE */, 0x2000000 /* WHOLE_SECONDS */, 0x4000000 /* STICKY_TIMEOUTS */, 0x8000000 /* ADDR_LIMIT_3GB */]
const QUERY_BIT = 0x80000000

/** Only the native ABI: the filter kills calls of another one (e.g. int 0x80 on x86_64). */
function architectures(): string[] {
  switch (os.arch()) {
    case 'x64':
      return ['SCMP_ARCH_X86_64']
    case 'arm64':
      return ['SCMP_ARCH_AARCH64']
    default:
      return []
  }
}

export function defaultSeccomp(): Record<string, unknown> {
  const masked = (index: number, bit: number) => ({ index, value: bit, valueTwo: bit, op: 'SCMP_CMP_MASKED_EQ' })
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: architectures(),
    syscalls: [
      { names: [...DENIED_SYSCALLS], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
      // one rule per flag: a rule's conditions are ANDed, rules are ORed. clone's flags are its
      // first argument on x86_64 and aarch64
      ...CLONE_NAMESPACE_FLAGS.map((f) => ({ names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [masked(0, f)] })),
      ...PERSONALITY_RISKY.map((bit) => ({
        names: ['personality'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: EPERM,
        // bit 31 is no flag: clear in every real persona, set in the query, which stays allowed
        // (one comparison per argument: libseccomp does not combine two on the same one)
        args: [{ index: 0, value: bit + QUERY_BIT, valueTwo: bit, op: 'SCMP_CMP_MASKED_EQ' }],
      })),
    ],
  }
}
