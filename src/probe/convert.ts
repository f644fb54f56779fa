/**
 * Probe conversion: one raw record → the shared KEvent, updating the replay state on the way
 * (the Kindling "probe" step). Reads fields at precomputed offsets instead of decoding whole
 * records, and drops records that carry no information: I/O that moved nothing or failed with
 * a routine errno (EAGAIN/EINTR: a non-blocking loop polling), and the recorder's own process.
 * A read returning 0 is kept: it is end-of-stream, which connection tracking needs.
 */
import type { ClockAnchor } from '../capture/source.js';
import { recordCpu, recordPid, recordTid, recordTsHi, recordTsLo, recordType } from '../schema/header.generated.js';
import type { ResolvedSchema } from '../schema/schema.js';
import { KEvent } from './event.js';
import { Kind, buildLayouts, type EventLayout, type LayoutField, type LayoutVar } from './layout.js';
import { AF_INET, AF_INET6, AF_UNIX, IPPROTO_TCP, IPPROTO_UDP, addrText, familyKind } from './net.js';
import { FdInfo, ReplayState, type ProcessInfo } from './state.js';

export interface ConvertOptions {
  /** Keep every record, even those that carry no information. Default false. */
  readonly keepAll?: boolean;
  /** Processes whose events are dropped (the recorder's own pid). Default none. */
  readonly ignorePids?: readonly number[];
}

/** Why a record did not become an event. */
export type Verdict = 'kept' | 'dropped' | 'malformed';

/** 32-bit fields, read signed or unsigned as the schema declares them. */
type IntField = Exclude<LayoutField, 'res' | 'latency' | 'ino' | 'laddr' | 'raddr' | 'lport' | 'rport' | 'family' | 'l4proto' | 'socktype'>;

const TWO32 = 0x1_0000_0000;
const EAGAIN = 11;
const EINTR = 4;
const EINPROGRESS = 115;
const AT_FDCWD = -100;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;
const F_DUPFD_CLOEXEC = 1030;
const TCP_LISTEN = 10;
const SOCK_TYPE_MASK = 0xf;
const IPV4_CACHE_SIZE = 4096;

export class Converter {
  readonly state: ReplayState;
  readonly event: KEvent;
  private readonly layouts: (EventLayout | undefined)[];
  private readonly keepAll: boolean;
  private readonly ignore: ReadonlySet<number>;
  /** Tuple-only context for tcp_* events, which are about a socket but not an fd. */
  private readonly tcpFd = new FdInfo(0, -1, 'ipv4', 'inferred');
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private readonly ipv4Cache = new Map<number, string>();
  /** Why the last 'malformed' verdict was given. */
  problem = '';

  constructor(schema: ResolvedSchema, state: ReplayState, clock: ClockAnchor, opts: ConvertOptions = {}) {
    this.state = state;
    this.event = new KEvent(schema, clock, state);
    this.layouts = buildLayouts(schema);
    this.keepAll = opts.keepAll ?? false;
    this.ignore = new Set(opts.ignorePids ?? []);
  }

  /** Points the converter at a new chunk of concatenated records. */
  setChunk(bytes: Uint8Array): void {
    this.event.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /**
   * Converts the record of `length` bytes (already framed) at `off` of the current chunk into
   * `this.event`. Header fields are read by the generated header reader: resolveSchema refuses any
   * schema whose header differs from it.
   */
  convert(off: number, length: number, num: number): Verdict {
    const v = this.view;
    const layout = this.layouts[recordType(v, off)];
    if (layout === undefined) return this.malformed(`unknown event type ${recordType(v, off)}`);
    if (length < layout.event.minSize) return this.malformed(`${layout.event.name} record of ${length} bytes is shorter than its fixed part`);
    const ev = this.event;
    ev.layout = layout;
    ev.num = num;
    ev.offset = off;
    ev.length = length;
    if (!this.locateVars(layout, off, length)) return 'malformed';
    ev.pid = recordPid(v, off);
    if (this.ignore.size !== 0 && this.ignore.has(ev.pid)) return 'dropped';
    ev.res = layout.off.res < 0 ? undefined : this.i64(off + layout.off.res);
    if (layout.isIo && !this.keepAll && !worthKeeping(layout, ev.res!)) return 'dropped';
    ev.cpu = recordCpu(v, off);
    ev.tsLo = recordTsLo(v, off);
    ev.tsHi = recordTsHi(v, off);
    ev.tid = recordTid(v, off);
    ev.latency = layout.off.latency < 0 ? undefined : this.u64(off + layout.off.latency);
    ev.thread = this.state.thread(ev.pid, ev.tid);
    ev.fdNum = -1;
    ev.fd = undefined;
    this.apply(layout, off);
    return 'kept';
  }

  private malformed(problem: string): Verdict {
    this.problem = problem;
    return 'malformed';
  }

  /** Finds the payload and sockaddr vars; false (with `problem` set) when a length overruns the record. */
  private locateVars(layout: EventLayout, off: number, length: number): boolean {
    const ev = this.event;
    ev.dataAt = -1;
    ev.dataLen = 0;
    ev.addrAt = -1;
    ev.addrLen = 0;
    const e = layout.event;
    let at = off + e.minSize;
    const end = off + length;
    for (let i = 0; i < e.vars.length; i++) {
      const n = this.view.getUint32(off + e.varLensOffset + 4 * i, true);
      if (n > end - at) {
        this.problem = `${e.name}.${e.vars[i]!.name} length ${n} overruns the record`;
        return false;
      }
      if (i === layout.varIndex.data) {
        ev.dataAt = at;
        ev.dataLen = n;
      } else if (i === layout.varIndex.addr) {
        ev.addrAt = at;
        ev.addrLen = n;
      }
      at += n;
    }
    return true;
  }

  private apply(layout: EventLayout, off: number): void {
    switch (layout.kind) {
      case Kind.Io: return this.onIo(layout, off);
      case Kind.Socket: return this.onSocket(layout, off);
      case Kind.Socketpair: return this.onSocketpair(layout, off);
      case Kind.Connect: return this.onConnect(layout, off);
      case Kind.Accept: return this.onAccept(layout, off);
      case Kind.Bind: return this.onBind(layout, off);
      case Kind.Listen: return this.onListen(layout, off);
      case Kind.Shutdown: return this.onShutdown(layout, off);
      case Kind.Close: return this.onClose(layout, off);
      case Kind.Dup: return this.onDup(layout, off);
      case Kind.Open: return this.onOpen(layout, off);
      case Kind.Fork: return this.onFork(layout, off);
      case Kind.Exec: return this.onExec(layout, off);
      case Kind.Exit: return this.onExit(layout, off);
      case Kind.Tcp: return this.onTcp(layout, off);
      case Kind.Other: return;
    }
  }

  // --- field readers -------------------------------------------------------------------------

  private i64(at: number): number {
    return this.view.getUint32(at, true) + this.view.getInt32(at + 4, true) * TWO32;
  }

  private u64(at: number): number {
    return this.view.getUint32(at, true) + this.view.getUint32(at + 4, true) * TWO32;
  }

  /** A 32-bit field, or `dflt` when the event lacks it. */
  private int(layout: EventLayout, off: number, name: IntField, dflt: number): number {
    const at = layout.off[name];
    if (at < 0) return dflt;
    const t = layout.type[name];
    return t === 'i32' ? this.view.getInt32(off + at, true) : this.view.getUint32(off + at, true);
  }

  private socktype(layout: EventLayout, off: number): number {
    const at = layout.off.socktype;
    if (at < 0) return 0;
    return layout.type.socktype === 'u8' ? this.view.getUint8(off + at) : this.view.getInt32(off + at, true);
  }

  private varString(layout: EventLayout, off: number, name: LayoutVar): string {
    const bytes = this.varBytes(layout, off, name);
    return bytes === undefined ? '' : utf8.decode(bytes);
  }

  private varBytes(layout: EventLayout, off: number, name: LayoutVar): Uint8Array | undefined {
    const idx = layout.varIndex[name];
    if (idx < 0) return undefined;
    const e = layout.event;
    let at = off + e.minSize;
    for (let i = 0; i < idx; i++) at += this.view.getUint32(off + e.varLensOffset + 4 * i, true);
    const n = this.view.getUint32(off + e.varLensOffset + 4 * idx, true);
    return this.event.bytes.subarray(at, at + n);
  }

  // --- fd context ----------------------------------------------------------------------------

  /** The fd entry an event is about; one the state does not know is inferred from the record. */
  private fdContext(layout: EventLayout, off: number, num: number): FdInfo {
    const proc = this.event.thread.proc;
    let fd = proc.fds.get(num);
    const ino = layout.off.ino < 0 ? 0 : this.u64(off + layout.off.ino);
    // An inode different from the entry's, or a socket where the entry is a file, means the fd
    // was closed and reused without us seeing it.
    if (fd === undefined || (ino !== 0 && fd.ino !== 0 && fd.ino !== ino) || (fd.family === 0 && fd.kind !== 'unknown' && this.family(layout, off) !== 0)) {
      fd = this.state.newFd(proc, num, 'unknown', 'inferred');
    }
    this.applyTuple(layout, off, fd, ino);
    this.event.fdNum = num;
    this.event.fd = fd;
    return fd;
  }

  /** The socket family a record's tuple carries, 0 for none. */
  private family(layout: EventLayout, off: number): number {
    return layout.off.family < 0 ? 0 : this.view.getUint16(off + layout.off.family, true);
  }

  /** Takes the socket tuple a record carries into `fd` when it says more than the entry knows. */
  private applyTuple(layout: EventLayout, off: number, fd: FdInfo, ino: number): void {
    const family = this.family(layout, off);
    if (family === 0) return;
    const o = layout.off;
    const v = this.view;
    const lport = o.lport < 0 ? 0 : v.getUint16(off + o.lport, true);
    const rport = o.rport < 0 ? 0 : v.getUint16(off + o.rport, true);
    if (fd.family === family && fd.lport === lport && fd.rport === rport && (ino === 0 || fd.ino === ino)) return;
    fd.family = family;
    fd.kind = familyKind(family);
    if (ino !== 0) fd.ino = ino;
    if (o.l4proto >= 0 && v.getUint8(off + o.l4proto) !== 0) fd.l4proto = v.getUint8(off + o.l4proto);
    if (family === AF_INET || family === AF_INET6) {
      if (o.laddr >= 0) fd.laddr = this.addr(off + o.laddr, family);
      if (o.raddr >= 0 && rport !== 0) fd.raddr = this.addr(off + o.raddr, family);
      fd.lport = lport;
      if (rport !== 0) fd.rport = rport;
    }
    if (fd.role === '' && fd.origin === 'inferred' && fd.lport !== 0) this.guessRole(fd);
    fd.touched();
  }

  /** Address text, IPv4 from a small cache: the same few addresses recur on every connection. */
  private addr(at: number, family: number): string {
    if (family !== AF_INET) return addrText(this.event.bytes, at, family);
    const key = this.view.getUint32(at, true);
    let text = this.ipv4Cache.get(key);
    if (text === undefined) {
      if (this.ipv4Cache.size >= IPV4_CACHE_SIZE) this.ipv4Cache.clear();
      text = addrText(this.event.bytes, at, family);
      this.ipv4Cache.set(key, text);
    }
    return text;
  }

  /** For sockets first seen mid-stream: a listening port means accepted, a connected TCP peer means client. */
  private guessRole(fd: FdInfo): void {
    if (this.state.isListeningPort(fd.l4proto, fd.lport)) fd.role = 'server';
    else if (fd.l4proto === IPPROTO_TCP && fd.rport !== 0) fd.role = 'client';
  }

  // --- handlers ------------------------------------------------------------------------------

  private onIo(layout: EventLayout, off: number): void {
    // The hottest path: read the fd with a named offset rather than through int()'s keyed lookup.
    const at = layout.off.fd;
    const fd = this.fdContext(layout, off, at < 0 ? -1 : this.view.getInt32(off + at, true));
    // The first message on an unconnected datagram socket says which side it is.
    if (fd.role === '' && fd.family !== AF_UNIX && this.event.addrLen > 0) {
      fd.role = layout.dir === 2 ? 'client' : 'server';
      fd.touched();
    }
  }

  private onSocket(layout: EventLayout, off: number): void {
    const res = this.event.res!;
    if (res < 0) return;
    const domain = this.int(layout, off, 'domain', 0);
    const socktype = this.socktype(layout, off);
    const fd = this.state.openedFd(this.event.thread.proc, res, familyKind(domain), socktype);
    fd.family = domain;
    fd.l4proto = inetProto(domain, socktype);
    this.event.fdNum = res;
    this.event.fd = fd;
  }

  private onSocketpair(layout: EventLayout, off: number): void {
    if (this.event.res !== 0) return;
    const domain = this.int(layout, off, 'domain', AF_UNIX);
    const socktype = this.socktype(layout, off);
    const proc = this.event.thread.proc;
    for (const name of ['fd0', 'fd1'] as const) {
      const fd = this.state.openedFd(proc, this.int(layout, off, name, -1), familyKind(domain), socktype);
      fd.family = domain;
      fd.l4proto = inetProto(domain, socktype);
      this.event.fdNum = fd.num;
      this.event.fd = fd;
    }
  }

  private onConnect(layout: EventLayout, off: number): void {
    const fd = this.fdContext(layout, off, this.int(layout, off, 'fd', -1));
    const res = this.event.res!;
    if (res !== 0 && res !== -EINPROGRESS) return;
    fd.role = 'client';
    this.takePeerAddr(fd);
    fd.touched();
  }

  /** Fills what the tuple lacked (unix paths, the peer of a not yet established connect) from the call's sockaddr. */
  private takePeerAddr(fd: FdInfo): void {
    const sa = this.event.sockaddr;
    if (sa === undefined) return;
    if (sa.family === AF_UNIX) {
      fd.family = AF_UNIX;
      fd.kind = 'unix';
      fd.path = sa.addr;
    } else if (fd.rport === 0) {
      fd.family = sa.family;
      fd.kind = familyKind(sa.family);
      fd.raddr = sa.addr;
      fd.rport = sa.port;
    }
  }

  private onAccept(layout: EventLayout, off: number): void {
    const res = this.event.res!;
    if (res < 0) {
      this.fdContext(layout, off, this.int(layout, off, 'listen_fd', -1));
      return;
    }
    const proc = this.event.thread.proc;
    const listener = proc.fds.get(this.int(layout, off, 'listen_fd', -1));
    const fd = this.state.newFd(proc, res, listener?.kind ?? 'unknown', 'event');
    if (listener) {
      fd.family = listener.family;
      fd.l4proto = listener.l4proto;
      fd.path = listener.path;
    }
    fd.role = 'server';
    this.applyTuple(layout, off, fd, layout.off.ino < 0 ? 0 : this.u64(off + layout.off.ino));
    this.takePeerAddr(fd);
    fd.touched();
    this.event.fdNum = res;
    this.event.fd = fd;
  }

  private onBind(layout: EventLayout, off: number): void {
    const fd = this.fdContext(layout, off, this.int(layout, off, 'fd', -1));
    if (this.event.res !== 0) return;
    const sa = this.event.sockaddr;
    if (sa?.family === AF_UNIX) fd.path = sa.addr;
    else if (sa !== undefined && fd.lport === 0) {
      fd.laddr = sa.addr;
      fd.lport = sa.port;
    }
    this.state.markBound(fd);
    fd.touched();
  }

  private onListen(layout: EventLayout, off: number): void {
    const fd = this.fdContext(layout, off, this.int(layout, off, 'fd', -1));
    if (this.event.res === 0) this.state.markListening(fd);
  }

  private onShutdown(layout: EventLayout, off: number): void {
    const fd = this.fdContext(layout, off, this.int(layout, off, 'fd', -1));
    if (this.event.res === 0) fd.shut |= this.int(layout, off, 'how', 2) + 1;
  }

  private onClose(layout: EventLayout, off: number): void {
    const num = this.int(layout, off, 'fd', -1);
    this.fdContext(layout, off, num);
    if (this.event.res === 0) this.state.closeFd(this.event.thread.proc, num);
  }

  private onDup(layout: EventLayout, off: number): void {
    const res = this.event.res!;
    const oldNum = this.int(layout, off, 'oldfd', -1);
    const proc = this.event.thread.proc;
    if (res < 0 || res === oldNum) {
      this.event.fdNum = oldNum;
      this.event.fd = proc.fds.get(oldNum);
      return;
    }
    const flags = this.int(layout, off, 'flags', 0);
    const cloexec = layout.event.name === 'fcntl_dupfd' ? flags === F_DUPFD_CLOEXEC : (flags & O_CLOEXEC) !== 0;
    this.event.fdNum = res;
    this.event.fd = this.state.dupFd(proc, oldNum, res, cloexec);
  }

  private onOpen(layout: EventLayout, off: number): void {
    const res = this.event.res!;
    if (res < 0) return;
    const flags = this.int(layout, off, 'flags', 0);
    const proc = this.event.thread.proc;
    const fd = this.state.openedFd(proc, res, (flags & O_DIRECTORY) !== 0 ? 'dir' : 'file', flags);
    fd.path = resolvePath(this.varString(layout, off, 'path'), proc, this.int(layout, off, 'dirfd', AT_FDCWD));
    this.event.fdNum = res;
    this.event.fd = fd;
  }

  private onFork(layout: EventLayout, off: number): void {
    const childPid = this.int(layout, off, 'child_pid', 0);
    const childTid = this.int(layout, off, 'child_tid', childPid);
    if (childTid !== 0) this.state.fork(this.event.thread, childPid, childTid, this.varString(layout, off, 'child_comm'));
  }

  private onExec(layout: EventLayout, off: number): void {
    const ev = this.event;
    const args = this.varString(layout, off, 'args').split('\0');
    if (args[args.length - 1] === '') args.pop();
    const oldTid = this.int(layout, off, 'old_tid', ev.tid);
    this.state.exec(ev.thread, oldTid, this.varString(layout, off, 'filename'), this.varString(layout, off, 'comm'), args);
  }

  private onExit(layout: EventLayout, off: number): void {
    this.state.exit(this.event.thread, this.int(layout, off, 'group_dead', 0) === 1);
  }

  private onTcp(layout: EventLayout, off: number): void {
    const fd = this.tcpFd;
    fd.family = 0;
    fd.lport = 0;
    fd.rport = 0;
    fd.role = '';
    fd.listening = false;
    fd.l4proto = IPPROTO_TCP;
    fd.ino = 0; // 0 stays for a reset the kernel sent on behalf of no socket
    this.applyTuple(layout, off, fd, layout.off.ino < 0 ? 0 : this.u64(off + layout.off.ino));
    if (this.int(layout, off, 'newstate', 0) === TCP_LISTEN) this.state.markListening(fd);
    this.event.fd = fd.family === 0 ? undefined : fd;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function worthKeeping(layout: EventLayout, res: number): boolean {
  if (res > 0) return true;
  if (res === 0) return layout.dir === 1;
  return res !== -EAGAIN && res !== -EINTR;
}

function inetProto(domain: number, socktype: number): number {
  if (domain !== AF_INET && domain !== AF_INET6) return 0;
  const t = socktype & SOCK_TYPE_MASK;
  return t === 1 ? IPPROTO_TCP : t === 2 ? IPPROTO_UDP : 0;
}

/** Absolute path of an open: relative paths are resolved against the dir fd when we know its path. */
function resolvePath(path: string, proc: ProcessInfo, dirfd: number): string {
  if (path.startsWith('/') || dirfd === AT_FDCWD) return path;
  const dir = proc.fds.get(dirfd);
  return dir !== undefined && dir.path !== '' ? `${dir.path.replace(/\/$/, '')}/${path}` : path;
}
