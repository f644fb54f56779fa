/**
 * The fd table of one process: every /proc/PID/fd/N link, classified by what it points at, with
 * socket addresses joined from the socket tables of the process's network namespace.
 */
import { statSync } from 'node:fs';
import type { FdKind, FdRow } from '../../capture/tables.js';
import type { SocketInfo } from './sockets.js';
import { numericEntries, readLinkProc } from './procfs.js';

/** `anon_inode:` names (with or without brackets) → kind. */
const ANON_KINDS: Readonly<Record<string, FdKind>> = {
  eventfd: 'eventfd', signalfd: 'signalfd', timerfd: 'timerfd', eventpoll: 'epoll', inotify: 'inotify',
  'bpf-map': 'bpf', 'bpf-prog': 'bpf', bpf_link: 'bpf', 'bpf-link': 'bpf', perf_event: 'perf',
};

const SOCKET = /^socket:\[(\d+)\]$/;

/**
 * Kind and inode of a non-socket link target that needs no stat() to classify; undefined for
 * paths, which need one to tell files from directories.
 */
export function classifyLink(target: string): { kind: FdKind; ino: number } | undefined {
  const pipe = /^pipe:\[(\d+)\]$/.exec(target);
  if (pipe) return { kind: 'pipe', ino: Number(pipe[1]) };
  const anon = /^anon_inode:\[?([^\]]*)\]?$/.exec(target);
  if (anon) return { kind: ANON_KINDS[anon[1]!] ?? 'other', ino: 0 };
  if (target.startsWith('/memfd:')) return { kind: 'memfd', ino: 0 };
  if (target.startsWith('/')) return undefined;
  return { kind: 'other', ino: 0 };
}

/** What the socket tables know about a socket inode, undefined when no table lists it. */
export type SocketLookup = (ino: number) => SocketInfo | undefined;

/** One fd; undefined when it was closed while we looked. */
function readFd(pid: number, fd: number, lookup: SocketLookup): FdRow | undefined {
  const link = `/proc/${pid}/fd/${fd}`;
  const name = readLinkProc(link);
  if (name === undefined) return undefined;
  const socket = SOCKET.exec(name);
  if (socket) {
    const ino = Number(socket[1]);
    // Sockets absent from every table (packet, vsock, ...) keep their name and inode.
    return { pid, fd, name, ino, ...(lookup(ino) ?? { kind: 'other' }) };
  }
  const known = classifyLink(name);
  if (known) return { pid, fd, name, ...known };
  try {
    const st = statSync(link);
    // A named FIFO is a pipe that happens to have a path.
    const kind = st.isDirectory() ? 'dir' : st.isFIFO() ? 'pipe' : 'file';
    return { pid, fd, name, kind, ino: st.ino };
  } catch {
    // Deleted-and-gone or unreadable target: still a file fd by its name.
    return { pid, fd, name, kind: 'file', ino: 0 };
  }
}

/** All fds of `pid`, ascending; [] when it exited. */
export function readFds(pid: number, lookup: SocketLookup): FdRow[] {
  const out: FdRow[] = [];
  for (const fd of numericEntries(`/proc/${pid}/fd`) ?? []) {
    const row = readFd(pid, fd, lookup);
    if (row) out.push(row);
  }
  return out;
}
