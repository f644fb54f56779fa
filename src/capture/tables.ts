/**
 * The host tables a capture carries next to its raw events: what was running, what each process
 * had open, which containers existed. The recorder snapshots them from /proc at start (and may
 * write a later snapshot); replay seeds its state from them. Each table is one msgpack block whose
 * rows are plain objects with these field names, documented in formats/kcap.md. Readers must
 * tolerate unknown extra fields (newer writers) and missing optional ones (older writers).
 */

/** One thread (a process is the thread whose tid equals its pid). */
export interface ThreadRow {
  readonly pid: number;
  readonly tid: number;
  readonly ppid: number;
  readonly comm: string;
  /** Resolved /proc/PID/exe, '' when unreadable (kernel threads, permission). */
  readonly exe: string;
  readonly args: readonly string[];
  readonly uid: number;
  readonly gid: number;
  /** Start time in CLOCK_BOOTTIME ns (from /proc/PID/stat starttime). */
  readonly startNs: number;
  /** Inode numbers of the pid and net namespaces (as in /proc/PID/ns/*). */
  readonly pidNs: number;
  readonly netNs: number;
  /** Container id ('' on the host). */
  readonly containerId: string;
  readonly cwd?: string;
}

export type FdKind = 'file' | 'dir' | 'ipv4' | 'ipv6' | 'unix' | 'netlink' | 'pipe' | 'eventfd' | 'signalfd'
  | 'timerfd' | 'epoll' | 'inotify' | 'memfd' | 'bpf' | 'perf' | 'other';

/** One open file descriptor of one process (fd tables are per process, shared by its threads). */
export interface FdRow {
  readonly pid: number;
  readonly fd: number;
  readonly kind: FdKind;
  /** Path for files, `socket:[ino]`/`pipe:[ino]`/`anon_inode:...` as /proc shows otherwise. */
  readonly name: string;
  /** Inode (sockets and pipes), 0 when unknown. */
  readonly ino: number;
  /** Sockets only: L4 protocol ('tcp' | 'udp' | 'unix' | 'raw' | ...), addresses as text, ports numbers. */
  readonly l4proto?: string;
  readonly laddr?: string;
  readonly lport?: number;
  readonly raddr?: string;
  readonly rport?: number;
  /** TCP state name as in /proc/net/tcp (LISTEN, ESTABLISHED, ...). */
  readonly state?: string;
  /** unix sockets: bound path, if any. */
  readonly path?: string;
}

export interface ContainerRow {
  readonly id: string;
  /** 'docker' | 'containerd' | 'cri-o' | 'podman' | 'other' */
  readonly runtime: string;
  readonly name: string;
  readonly image: string;
  /** The cgroup path the id was parsed from. */
  readonly cgroup: string;
}

export interface UserRow {
  readonly uid: number;
  readonly name: string;
  readonly home: string;
  readonly shell: string;
}

export interface GroupRow {
  readonly gid: number;
  readonly name: string;
}

export interface InterfaceRow {
  readonly name: string;
  readonly index: number;
  readonly addrs: readonly string[];
  readonly netNs: number;
}

export interface MachineInfo {
  readonly hostname: string;
  readonly kernelRelease: string;
  readonly kernelVersion: string;
  readonly arch: string;
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly bootId: string;
  readonly os?: string;
}

/** The table kinds a capture can carry, with their row types. */
export interface Tables {
  threads: ThreadRow[];
  fds: FdRow[];
  containers: ContainerRow[];
  users: UserRow[];
  groups: GroupRow[];
  interfaces: InterfaceRow[];
}

export type TableKind = keyof Tables;
export const TABLE_KINDS: readonly TableKind[] = ['threads', 'fds', 'containers', 'users', 'groups', 'interfaces'];
