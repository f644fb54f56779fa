/**
 * Replay state: the thread, process and fd tables as they were at each point of the capture.
 * Seeded from the capture's snapshot tables, then kept current by the events themselves (fork,
 * exec, exit, socket/open/accept/connect, close/dup). Every fd entry gets a generation number
 * unique within the replay, so an fd number reused after close is a different entry and
 * connection tracking can key on (pid, fd, generation) without confusing the two.
 *
 * Entries the snapshot missed are created from what the events carry and marked `partial`
 * (threads, processes) or origin 'inferred' (fds), so reports can say the context is a best guess.
 * Tables shrink on exit and close, so memory follows what is alive, not the capture length.
 */
import type { ContainerRow, FdRow, Tables, ThreadRow } from '../capture/tables.js';
import { AF_INET, AF_INET6, AF_UNIX, IPPROTO_UDP, endpointText, l4Name, l4Number } from './net.js';

export type Role = 'client' | 'server' | '';

/** Where an fd entry's context came from. */
export type FdOrigin = 'snapshot' | 'event' | 'inferred';

/**
 * One open file descriptor. Mutable: sockets learn their tuple as events arrive. A forked child
 * shares its parent's entries (same object, same `gen`: key on pid too); a dup is a new entry
 * with a new `gen`; `ino`, when known, names the socket behind all of them.
 */
export class FdInfo {
  /** fd.type: file, dir, ipv4, ipv6, unix, pipe, ..., 'unknown' when nothing said what it is. */
  kind: string;
  /** Path of a file (as opened, or from the snapshot); for unix sockets, the bound or peer path. */
  path = '';
  ino = 0;
  family = 0;
  l4proto = 0;
  laddr = '';
  lport = 0;
  raddr = '';
  rport = 0;
  role: Role = '';
  listening = false;
  /** shutdown() seen: bit 1 = reading shut, bit 2 = writing shut. */
  shut = 0;
  /** Closed on exec (O_CLOEXEC / SOCK_CLOEXEC seen when the fd was made). */
  cloexec = false;
  private cachedName: string | undefined;

  constructor(readonly gen: number, readonly num: number, kind: string, readonly origin: FdOrigin) {
    this.kind = kind;
  }

  get isSocket(): boolean {
    return this.family !== 0;
  }

  /** fd.name: the path of a file, or "client->server" endpoints of a socket (local->remote when the role is unknown). */
  get name(): string {
    return (this.cachedName ??= this.computeName());
  }

  /** Call after changing addresses or role, so the name is recomputed. */
  touched(): void {
    this.cachedName = undefined;
  }

  private computeName(): string {
    if (this.family !== AF_INET && this.family !== AF_INET6) return this.path;
    if (this.laddr === '' && this.lport === 0 && this.rport === 0) return '';
    const local = endpointText(this.laddr, this.lport);
    // Not connected (a listener, an unconnected datagram socket): only the local end means anything.
    if (this.rport === 0) return local;
    const remote = endpointText(this.raddr, this.rport);
    return this.role === 'server' ? `${remote}->${local}` : `${local}->${remote}`;
  }

  get l4Name(): string {
    return l4Name(this.l4proto, this.family);
  }

  /** Copies what the fd refers to into a new entry (dup: a new number for the same open file). */
  copyTo(target: FdInfo): FdInfo {
    target.path = this.path;
    target.ino = this.ino;
    target.family = this.family;
    target.l4proto = this.l4proto;
    target.laddr = this.laddr;
    target.lport = this.lport;
    target.raddr = this.raddr;
    target.rport = this.rport;
    target.role = this.role;
    target.listening = this.listening;
    return target;
  }
}

/** fds at or above this are not tracked (an untrusted capture must not make the table huge). */
const MAX_TRACKED_FD = 1 << 20;

/**
 * One process's fd table, an array indexed by fd number: fds are small dense integers, so lookups
 * are an element load and the copy a fork makes is one slice (a Map copy cost ~100x more).
 */
export class FdTable {
  private slots: (FdInfo | undefined)[] = [];

  get(num: number): FdInfo | undefined {
    return num >= 0 && num < MAX_TRACKED_FD ? this.slots[num] : undefined;
  }

  set(num: number, fd: FdInfo): void {
    if (num >= 0 && num < MAX_TRACKED_FD) this.slots[num] = fd;
  }

  delete(num: number): void {
    if (num >= 0 && num < this.slots.length) this.slots[num] = undefined;
  }

  copy(): FdTable {
    const t = new FdTable();
    t.slots = this.slots.slice();
    return t;
  }

  /** Closes the fds marked close-on-exec. */
  closeOnExec(): void {
    const slots = this.slots;
    for (let num = 0; num < slots.length; num++) if (slots[num]?.cloexec) slots[num] = undefined;
  }

  /** Open entries in fd order. */
  entries(): [number, FdInfo][] {
    const out: [number, FdInfo][] = [];
    this.slots.forEach((fd, num) => {
      if (fd !== undefined) out.push([num, fd]);
    });
    return out;
  }
}

/** What threads of one process share: identity, executable, fd table. */
export class ProcessInfo {
  exe = '';
  args: readonly string[] = [];
  uid = -1;
  gid = -1;
  containerId = '';
  fds = new FdTable();
  /** Thread ids alive in this process. */
  readonly tids = new Set<number>();

  constructor(readonly pid: number, public ppid: number, public partial: boolean) {}

  /** proc.cmdline as sysdig shows it: the argv joined by spaces. */
  cmdline(comm: string): string {
    return this.args.length ? this.args.join(' ') : comm;
  }
}

export class ThreadInfo {
  constructor(readonly tid: number, public comm: string, public proc: ProcessInfo, public partial: boolean) {}

  get pid(): number {
    return this.proc.pid;
  }
}

/** Listening ports are keyed by L4 protocol and port (network namespaces are not told apart). */
function portKey(l4proto: number, port: number): number {
  return l4proto * 0x10000 + port;
}

const O_CLOEXEC = 0o2000000;

export class ReplayState {
  readonly threads = new Map<number, ThreadInfo>();
  readonly procs = new Map<number, ProcessInfo>();
  readonly containers = new Map<string, ContainerRow>();
  readonly users = new Map<number, string>();
  private readonly listening = new Set<number>();
  private nextGen = 1;

  constructor(tables: Tables) {
    for (const c of tables.containers) this.containers.set(c.id, c);
    for (const u of tables.users) this.users.set(u.uid, u.name);
    for (const t of tables.threads) this.seedThread(t);
    const sockets = tables.fds.filter((r) => this.seedFd(r));
    for (const fd of sockets) this.seedRole(fd);
  }

  private seedThread(row: ThreadRow): void {
    const proc = this.procs.get(row.pid) ?? this.addProcess(row.pid, row.ppid, false);
    if (row.tid === row.pid || proc.args.length === 0) {
      proc.ppid = row.ppid;
      proc.exe = row.exe;
      proc.args = row.args;
      proc.uid = row.uid;
      proc.gid = row.gid;
      proc.containerId = row.containerId;
    }
    this.addThread(proc, row.tid, row.comm, false);
  }

  /** Adds a snapshot fd; returns whether it is a socket whose role still needs deciding. */
  private seedFd(row: FdRow): boolean {
    const proc = this.procs.get(row.pid) ?? this.addProcess(row.pid, 0, true);
    const fd = this.newFd(proc, row.fd, row.kind, 'snapshot');
    fd.ino = row.ino;
    fd.family = row.kind === 'ipv4' ? AF_INET : row.kind === 'ipv6' ? AF_INET6 : row.kind === 'unix' ? AF_UNIX : 0;
    // Files show their path; pipes, eventfds and the like the name /proc gives them (pipe:[123]).
    fd.path = row.path ?? (fd.family === 0 ? row.name : '');
    if (fd.family === 0) return false;
    fd.l4proto = l4Number(row.l4proto);
    fd.laddr = row.laddr ?? '';
    fd.lport = row.lport ?? 0;
    fd.raddr = row.raddr ?? '';
    fd.rport = row.rport ?? 0;
    if (row.state === 'LISTEN') this.markListening(fd);
    return true;
  }

  /** Once all listeners are known: an established socket on a listening port was accepted. */
  private seedRole(row: FdRow): void {
    const fd = this.procs.get(row.pid)?.fds.get(row.fd);
    if (!fd || fd.role !== '' || fd.family === AF_UNIX || fd.rport === 0) return;
    fd.role = this.isListeningPort(fd.l4proto, fd.lport) ? 'server' : 'client';
  }

  private addProcess(pid: number, ppid: number, partial: boolean): ProcessInfo {
    const p = new ProcessInfo(pid, ppid, partial);
    this.procs.set(pid, p);
    return p;
  }

  private addThread(proc: ProcessInfo, tid: number, comm: string, partial: boolean): ThreadInfo {
    const old = this.threads.get(tid);
    if (old && old.proc !== proc) this.dropTid(old.proc, tid);
    const t = new ThreadInfo(tid, comm, proc, partial);
    this.threads.set(tid, t);
    proc.tids.add(tid);
    return t;
  }

  /** A process's name as reports show it: its main thread's comm (worker threads often rename
   * themselves, e.g. redis's io_thd_1), else the given thread's when the main thread is gone. */
  processComm(thread: ThreadInfo): string {
    const leader = this.threads.get(thread.proc.pid);
    return leader?.proc === thread.proc && leader.comm ? leader.comm : thread.comm;
  }

  /** The thread of an event; one the snapshot and events never introduced is created, marked partial. */
  thread(pid: number, tid: number): ThreadInfo {
    const t = this.threads.get(tid);
    if (t !== undefined && t.proc.pid === pid) return t;
    const proc = this.procs.get(pid) ?? this.addProcess(pid, 0, true);
    const leader = this.threads.get(pid);
    return this.addThread(proc, tid, leader?.proc === proc ? leader.comm : '', true);
  }

  /** Makes a new entry for `num`, replacing (never reusing) whatever was there. */
  newFd(proc: ProcessInfo, num: number, kind: string, origin: FdOrigin): FdInfo {
    const fd = new FdInfo(this.nextGen++, num, kind, origin);
    proc.fds.set(num, fd);
    return fd;
  }

  closeFd(proc: ProcessInfo, num: number): void {
    proc.fds.delete(num);
  }

  dupFd(proc: ProcessInfo, oldNum: number, newNum: number, cloexec: boolean): FdInfo {
    const old = proc.fds.get(oldNum);
    const fd = this.newFd(proc, newNum, old?.kind ?? 'unknown', old ? 'event' : 'inferred');
    old?.copyTo(fd);
    fd.cloexec = cloexec;
    return fd;
  }

  /** A file or socket fd made by an event whose flags may carry O_CLOEXEC. */
  openedFd(proc: ProcessInfo, num: number, kind: string, flags: number): FdInfo {
    const fd = this.newFd(proc, num, kind, 'event');
    fd.cloexec = (flags & O_CLOEXEC) !== 0;
    return fd;
  }

  markListening(fd: FdInfo): void {
    fd.listening = true;
    fd.role = 'server';
    fd.touched();
    if (fd.lport !== 0) this.listening.add(portKey(fd.l4proto, fd.lport));
  }

  /** A bound UDP socket serves its port (UDP has no listen()). */
  markBound(fd: FdInfo): void {
    if (fd.l4proto === IPPROTO_UDP && fd.role === '') {
      fd.role = 'server';
      fd.touched();
    }
  }

  isListeningPort(l4proto: number, port: number): boolean {
    return this.listening.has(portKey(l4proto, port));
  }

  /** fork/clone: a thread joins its process; a new process gets a copy of the parent's fd table. */
  fork(parent: ThreadInfo, childPid: number, childTid: number, comm: string): void {
    if (childPid === parent.proc.pid) {
      this.addThread(parent.proc, childTid, comm, false);
      return;
    }
    const pp = parent.proc;
    const child = this.addProcess(childPid, pp.pid, false);
    child.exe = pp.exe;
    child.args = pp.args;
    child.uid = pp.uid;
    child.gid = pp.gid;
    child.containerId = pp.containerId;
    // The child's fds refer to the same open files and sockets: share the entries (same
    // generation; consumers key on pid as well), only the table is the child's own.
    child.fds = pp.fds.copy();
    this.addThread(child, childTid, comm, false);
  }

  /** exec: the process gets a new image; other threads are gone, close-on-exec fds are closed. */
  exec(thread: ThreadInfo, oldTid: number, exe: string, comm: string, args: readonly string[]): ThreadInfo {
    const proc = thread.proc;
    if (proc.tids.size > 1) {
      for (const tid of [...proc.tids]) if (tid !== thread.tid) this.dropTid(proc, tid);
    }
    if (oldTid !== thread.tid) this.dropTid(proc, oldTid);
    proc.exe = exe;
    proc.args = args;
    proc.partial = false;
    thread.comm = comm;
    thread.partial = false;
    proc.fds.closeOnExec();
    return thread;
  }

  exit(thread: ThreadInfo, groupDead: boolean): void {
    if (!groupDead) {
      this.dropTid(thread.proc, thread.tid);
      return;
    }
    const proc = thread.proc;
    for (const tid of [...proc.tids]) this.dropTid(proc, tid);
    if (this.procs.get(proc.pid) === proc) this.procs.delete(proc.pid);
  }

  /** Removes thread `tid` of `proc` (leaving alone a thread of another process that reuses the number). */
  private dropTid(proc: ProcessInfo, tid: number): void {
    if (this.threads.get(tid)?.proc === proc) this.threads.delete(tid);
    proc.tids.delete(tid);
  }

  container(proc: ProcessInfo): ContainerRow | undefined {
    return proc.containerId === '' ? undefined : this.containers.get(proc.containerId);
  }
}
