/**
 * Connection tracking: turns socket I/O events into per-connection byte streams, detects each
 * connection's protocol and feeds its parser, and labels the records that come out with both
 * endpoints and the processes behind them.
 *
 * A connection is one socket of one process (pid, fd generation); an unconnected datagram socket
 * is one connection per peer address. When both ends of a same-host connection are traced, they
 * are joined by their 4-tuple: the end whose bytes identified the protocol first is parsed, the
 * other only lends its process to the records, so a request is never counted twice.
 */
import type { KEvent } from '../probe/event.js';
import { endpointText } from '../probe/net.js';
import type { FdInfo, ReplayState } from '../probe/state.js';
import {
  detectProtocol, type ConnectionParser, type Direction, type L7Record, type ProtocolSpec, type Transport,
} from '../protocols/index.js';

/** One end of a request: its address and, when it was traced, the process. */
export interface Peer {
  readonly addr: string;
  readonly port: number;
  readonly pid: number;
  readonly comm: string;
  readonly containerId: string;
}

/**
 * Where a connection's requests happened: both endpoints and the processes behind them. One
 * object per connection (replaced when the other end joins), so labels are computed once per
 * connection, not once per request, and aggregation can key its caches on it.
 */
export interface ConnContext {
  /** Connection number in capture order, from 1. */
  readonly conn: number;
  readonly l4: 'tcp' | 'udp';
  readonly protocol: string;
  readonly client: Peer;
  readonly server: Peer;
  /** Which end's syscalls the requests were parsed from. */
  readonly observedAt: 'client' | 'server';
  readonly bothEndsTraced: boolean;
}

export interface ConnectionStats {
  connections: number;
  /** Connections whose protocol was recognised, by protocol name. */
  byProtocol: Map<string, number>;
  /** Connections with data but no recognisable protocol, and their bytes. */
  unknown: number;
  unknownBytes: number;
  /** Ends not parsed because the other end of the same connection was. */
  joined: number;
  /** Gaps reported to parsers (lost events, payload beyond snaplen that could not be skipped). */
  gaps: number;
  invalidFrames: number;
  unmatchedResponses: number;
}

const NO_PEER: Peer = { addr: '', port: 0, pid: 0, comm: '', containerId: '' };
/**
 * Data events examined before a connection is declared unknown. A connection joined mid-way
 * shows its protocol only in a syscall that starts at a message boundary: writes do, but the
 * reads of a busy HTTP/2 connection often begin inside a frame, several in a row.
 */
export const DETECT_ATTEMPTS = 16;
const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const EINPROGRESS = -115;
/** Linux pids are below 2^22, so gen * PID_SPACE + pid is exact while gen < 2^31. */
const PID_SPACE = 0x40_0000;

/** A socket end's key for the whole replay: the pair (process, fd generation), since a forked child shares its parent's fd entries. */
export function socketKey(pid: number, fd: FdInfo): number {
  return fd.gen * PID_SPACE + pid;
}

/** Whether a socket end is its connection's client, as its syscalls told; undefined when they did not. */
export function clientRole(fd: FdInfo): boolean | undefined {
  return fd.role === 'client' ? true : fd.role === 'server' ? false : undefined;
}

/** What the bytes of one syscall on a connection end say about it. */
export interface EndDetection {
  readonly protocol: ProtocolSpec;
  /** Whether this end is the connection's client. */
  readonly isClient: boolean;
}

/**
 * The protocol of a connection end from the bytes one of its syscalls moved (`outgoing`: written
 * by this end). `isClient` undefined (role unknown): the protocol's own view of which side such
 * bytes come from decides it; `serverPort` is only a hint.
 */
export function detectEnd(payload: Uint8Array, outgoing: boolean, transport: Transport, isClient: boolean | undefined,
  serverPort?: number): EndDetection | undefined {
  if (isClient !== undefined) {
    const found = detectProtocol(payload, outgoing === isClient ? 'req' : 'resp', transport, serverPort);
    return found && { protocol: found.protocol, isClient };
  }
  const asReq = detectProtocol(payload, 'req', transport);
  const asResp = detectProtocol(payload, 'resp', transport);
  const req = asReq?.confidence ?? 0;
  const resp = asResp?.confidence ?? 0;
  const found = req >= resp ? asReq : asResp;
  return found && { protocol: found.protocol, isClient: (req >= resp) === outgoing };
}

interface ProcessRef {
  readonly pid: number;
  readonly comm: string;
  readonly containerId: string;
}

function ownerKey(l4proto: number, addr: string, port: number): string {
  return `${l4proto} ${endpointText(addr, port)}`;
}

function processRef(ev: KEvent): ProcessRef {
  return { pid: ev.pid, comm: ev.state.processComm(ev.thread), containerId: ev.thread.proc.containerId };
}

class Conn {
  parser: ConnectionParser | undefined;
  /** Which of our directions carries requests: true when this end is the client. */
  isClient: boolean;
  attempts = 0;
  bytes = 0;
  done = false;
  /** Set when the other end of the same connection is the one being parsed. */
  mirrorOf: Conn | undefined;
  /** The traced process on the other end, learnt through the join. */
  peerProc: ProcessRef | undefined;
  /** Labels for this connection's records; rebuilt when the other end joins. */
  ctx: ConnContext | undefined;

  constructor(readonly id: number, readonly key: number | string, readonly joinKey: string, readonly l4: 'tcp' | 'udp',
    readonly local: { addr: string; port: number }, readonly remote: { addr: string; port: number },
    readonly proc: ProcessRef, isClient: boolean | undefined, readonly roleKnown: boolean) {
    this.isClient = isClient ?? true;
  }
}

export class ConnectionTracker {
  readonly stats: ConnectionStats = {
    connections: 0, byProtocol: new Map(), unknown: 0, unknownBytes: 0, joined: 0, gaps: 0, invalidFrames: 0,
    unmatchedResponses: 0,
  };
  private readonly conns = new Map<number | string, Conn>();
  /**
   * Which traced process a connecting socket's local endpoint belongs to, from its connect event.
   * The end that is parsed may see its peer's bytes before the peer's own syscall exits (events
   * are emitted at exit), so the join can come too late to label the first requests; this can't.
   */
  private readonly owners = new Map<string, ProcessRef>();
  /** Parsed ends by canonical 4-tuple, for joining the other end. */
  private readonly parsedEnds = new Map<string, Conn>();
  private nextId = 1;

  /** `owns`: whether this tracker parses the connection with this join key (parallel shards);
   * the others are still numbered, so connection numbers agree across shards. Default all. */
  constructor(private readonly emit: (r: L7Record, ctx: ConnContext) => void,
    private readonly owns?: (joinKey: string) => boolean, snapshot?: ReplayState) {
    if (snapshot) this.ownSnapshotSockets(snapshot);
  }

  /** Client sockets open when the recording began had their connect before it: the snapshot names
   * their processes, so a server end parsed before the client's first syscall still labels it. */
  private ownSnapshotSockets(state: ReplayState): void {
    for (const proc of state.procs.values()) {
      const leader = state.threads.get(proc.pid) ?? [...proc.tids].map((t) => state.threads.get(t)).find((t) => t);
      if (!leader) continue;
      const ref = { pid: proc.pid, comm: state.processComm(leader), containerId: proc.containerId };
      for (const [, fd] of proc.fds.entries()) {
        if (fd.origin === 'snapshot' && fd.role === 'client' && fd.lport !== 0) this.owners.set(ownerKey(fd.l4proto, fd.laddr, fd.lport), ref);
      }
    }
  }

  /** Visitor for every replayed event. */
  onEvent(ev: KEvent): void {
    const fd = ev.fd;
    if (fd === undefined || (fd.family !== AF_INET && fd.family !== AF_INET6)) return;
    if (ev.isIo) {
      this.onIo(ev, fd);
    } else if (ev.name === 'connect' && (ev.res === 0 || ev.res === EINPROGRESS) && fd.lport !== 0) {
      this.owners.set(ownerKey(fd.l4proto, fd.laddr, fd.lport), processRef(ev));
    } else if (ev.name === 'close' && fd.gen !== 0) {
      this.closeFd(ev.pid, fd);
    }
  }

  /** The kernel dropped events somewhere: every open stream may have a hole of unknown size. */
  onLoss(ts: bigint): void {
    for (const c of this.conns.values()) {
      if (!c.parser) continue;
      for (const dir of ['req', 'resp'] as const) this.take(c, c.parser.gap(dir, Number.MAX_SAFE_INTEGER, ts));
      this.stats.gaps += 2;
    }
  }

  /** End of capture: flush every parser in connection order. */
  finish(): void {
    const open = [...this.conns.values()].sort((a, b) => a.id - b.id);
    for (const c of open) this.end(c);
    this.conns.clear();
  }

  private onIo(ev: KEvent, fd: FdInfo): void {
    const size = ev.res ?? 0;
    if (size <= 0) return;
    const l4 = fd.l4proto === IPPROTO_TCP ? 'tcp' : fd.l4proto === IPPROTO_UDP ? 'udp' : undefined;
    if (!l4) return;
    const rport = ev.rport ?? 0;
    if (rport === 0) return;
    const conn = this.connFor(ev, fd, l4, ev.raddr ?? '', rport);
    if (conn.mirrorOf || conn.done) return;
    const outgoing = ev.dir === 'out';
    const payload = ev.payload;
    if (!conn.parser && !this.detect(conn, payload, outgoing)) {
      conn.bytes += size;
      return;
    }
    const dir: Direction = outgoing === conn.isClient ? 'req' : 'resp';
    this.take(conn, conn.parser!.data(dir, payload, ev.ts, size));
  }

  private connFor(ev: KEvent, fd: FdInfo, l4: 'tcp' | 'udp', raddr: string, rport: number): Conn {
    // An unconnected datagram socket talks to many peers: one conversation per peer.
    const perPeer = l4 === 'udp' && fd.rport === 0;
    const end = socketKey(ev.pid, fd);
    const key = perPeer ? `${end}/${endpointText(raddr, rport)}` : end;
    let c = this.conns.get(key);
    if (c) return c;
    const remote = { addr: raddr, port: rport };
    const local = { addr: fd.laddr, port: fd.lport };
    const a = endpointText(local.addr, local.port);
    const b = endpointText(remote.addr, remote.port);
    const joinKey = `${l4} ${a < b ? `${a} ${b}` : `${b} ${a}`}`;
    const role = clientRole(fd);
    const proc = processRef(ev);
    c = new Conn(this.nextId++, key, joinKey, l4, local, remote, proc, role, role !== undefined);
    this.conns.set(key, c);
    if (this.owns && !this.owns(joinKey)) {
      c.done = true;
      return c;
    }
    this.stats.connections++;
    return c;
  }

  /** Tries to recognise the protocol from this event's bytes; true once a parser is attached. */
  private detect(c: Conn, payload: Uint8Array, outgoing: boolean): boolean {
    const peer = this.parsedEnds.get(c.joinKey);
    if (peer && !peer.done) return this.mirror(c, peer);
    if (payload.length === 0) return false;
    const transport: Transport = c.l4 === 'udp' ? 'datagram' : 'stream';
    const serverPort = c.roleKnown ? (c.isClient ? c.remote.port : c.local.port) : undefined;
    const found = detectEnd(payload, outgoing, transport, c.roleKnown ? c.isClient : undefined, serverPort);
    if (!found) {
      if (++c.attempts >= DETECT_ATTEMPTS) this.giveUp(c);
      return false;
    }
    c.isClient = found.isClient;
    c.parser = found.protocol.open({ transport });
    this.parsedEnds.set(c.joinKey, c);
    const name = found.protocol.name;
    this.stats.byProtocol.set(name, (this.stats.byProtocol.get(name) ?? 0) + 1);
    return true;
  }

  private mirror(c: Conn, parsed: Conn): false {
    c.mirrorOf = parsed;
    parsed.peerProc = c.proc;
    parsed.ctx = undefined;
    this.stats.joined++;
    return false;
  }

  private giveUp(c: Conn): void {
    c.done = true;
    this.stats.unknown++;
  }

  private closeFd(pid: number, fd: FdInfo): void {
    const owner = ownerKey(fd.l4proto, fd.laddr, fd.lport);
    if (this.owners.get(owner)?.pid === pid) this.owners.delete(owner);
    const end = socketKey(pid, fd);
    const c = this.conns.get(end);
    if (c) this.end(c);
    if (fd.l4proto !== IPPROTO_UDP) return;
    const prefix = `${end}/`;
    for (const [key, conv] of this.conns) {
      if (typeof key === 'string' && key.startsWith(prefix)) this.end(conv);
    }
  }

  private end(c: Conn): void {
    this.conns.delete(c.key);
    if (c.parser) {
      this.take(c, c.parser.end());
      const s = c.parser.stats;
      this.stats.gaps += s.gaps;
      this.stats.invalidFrames += s.invalid;
      this.stats.unmatchedResponses += s.unmatchedResponses;
      if (this.parsedEnds.get(c.joinKey) === c) this.parsedEnds.delete(c.joinKey);
    } else if (!c.mirrorOf && c.bytes > 0) {
      if (!c.done) this.stats.unknown++;
      this.stats.unknownBytes += c.bytes;
    }
  }

  private take(c: Conn, records: readonly L7Record[]): void {
    if (records.length === 0) return;
    const ctx = (c.ctx ??= this.context(c));
    for (const r of records) this.emit(r, ctx);
  }

  private context(c: Conn): ConnContext {
    const peer = c.peerProc ?? this.owners.get(ownerKey(c.l4 === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP, c.remote.addr, c.remote.port));
    const me: Peer = { ...c.proc, addr: c.local.addr, port: c.local.port };
    const other: Peer = { ...(peer ?? NO_PEER), addr: c.remote.addr, port: c.remote.port };
    return {
      conn: c.id, l4: c.l4, protocol: c.parser?.protocol ?? '',
      client: c.isClient ? me : other,
      server: c.isClient ? other : me,
      observedAt: c.isClient ? 'client' : 'server',
      bothEndsTraced: peer !== undefined,
    };
  }
}
