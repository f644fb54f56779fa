/**
 * KEvent: one raw record turned into a structured event with its thread and fd context — what
 * filters, `kcap print` and the protocol analysis consume.
 *
 * Replay fills ONE KEvent object per converter and hands it to the visitor for each event, so
 * nothing is allocated per event on the hot path: header fields are plain numbers, the timestamp
 * and payload are materialised only when asked for, and `thread`/`fd` point at the live state
 * table entries. Consequences for consumers: read what you need during the visit; keep `thread`
 * and `fd` references (they are stable objects, an fd's `gen` identifies it for the whole replay),
 * but copy the payload (`payload.slice()`) if you keep it, since it is a view into the chunk.
 */
import { bootToUtcNs, type ClockAnchor } from '../capture/source.js';
import type { ContainerRow } from '../capture/tables.js';
import type { ResolvedSchema } from '../schema/schema.js';
import type { EventLayout } from './layout.js';
import { parseSockaddr, type SockAddr } from './net.js';
import type { FdInfo, ReplayState, ThreadInfo } from './state.js';

const EMPTY = new Uint8Array(0);
const TWO32 = 0x1_0000_0000;
/** tsHi below this: tsHi * 2^32 + tsLo is below 2^53, exact as a number. */
const TS_HI_EXACT = 0x20_0000;

export class KEvent {
  /** 1-based ordinal of the record in the capture, counting every record, so it is stable under filtering. */
  num = 0;
  layout!: EventLayout;
  cpu = 0;
  pid = 0;
  tid = 0;
  /** Syscall return value (bytes or -errno); undefined for events that have none (fork, tcp_*, ...). */
  res: number | undefined = undefined;
  /** Syscall duration in ns; undefined when the event has none. */
  latency: number | undefined = undefined;
  /** The fd the event is about (the new one for socket/open/accept/dup), -1 when none. */
  fdNum = -1;
  thread!: ThreadInfo;
  /** Context of fdNum: a state table entry, or for tcp_* events a tuple-only entry with gen 0. */
  fd: FdInfo | undefined = undefined;
  /** The chunk holding the record, and where the record is in it. */
  bytes: Uint8Array = EMPTY;
  offset = 0;
  length = 0;
  /** @internal filled by the converter */
  tsLo = 0;
  /** @internal */
  tsHi = 0;
  /**
   * Where the payload is in `bytes` (-1 when none): bytes[dataAt, dataAt + dataLen). For consumers
   * that scan payloads at full rate without allocating the view `payload` returns.
   */
  dataAt = -1;
  dataLen = 0;
  /** @internal where the call's sockaddr is in `bytes`; -1 when absent */
  addrAt = -1;
  /** @internal */
  addrLen = 0;

  constructor(readonly schema: ResolvedSchema, readonly clock: ClockAnchor, readonly state: ReplayState) {}

  get type(): number {
    return this.layout.event.id;
  }

  get name(): string {
    return this.layout.event.name;
  }

  /**
   * What the event is about, as Kindling categorises: I/O by what the fd is ('net' for IP
   * sockets, 'ipc' for unix sockets and pipes, 'file' for files, 'io' while unknown); other
   * events by their schema category (net, file, process, tcp, ...).
   */
  get category(): string {
    return this.layout.isIo ? ioCategory(this.fd?.kind) : this.layout.event.category;
  }

  /** Data direction of I/O events: 'in' (read/recv), 'out' (write/send), '' for other events. */
  get dir(): 'in' | 'out' | '' {
    return this.layout.event.dir ?? '';
  }

  get isIo(): boolean {
    return this.layout.isIo;
  }

  /** CLOCK_BOOTTIME ns of the record. */
  get ts(): bigint {
    // One BigInt from an exact number (below 2^53 ns, 104 days of uptime), not four.
    return this.tsHi < TS_HI_EXACT ? BigInt(this.tsHi * TWO32 + this.tsLo) : BigInt(this.tsHi) * 0x1_0000_0000n + BigInt(this.tsLo);
  }

  /** Boot ns as a number: exact below 2^53 ns (104 days of uptime), rounded to a few hundred ns after. */
  get tsNumber(): number {
    return this.tsHi * TWO32 + this.tsLo;
  }

  get utcNs(): bigint {
    return bootToUtcNs(this.clock, this.ts);
  }

  /** Payload captured with an I/O event (at most snaplen bytes), a view into the chunk. */
  get payload(): Uint8Array {
    return this.dataAt < 0 ? EMPTY : this.bytes.subarray(this.dataAt, this.dataAt + this.dataLen);
  }

  /** The sockaddr the call carried (sendto destination, recvfrom source, connect/bind/accept address). */
  get sockaddr(): SockAddr | undefined {
    return this.addrAt < 0 || this.addrLen === 0 ? undefined : parseSockaddr(this.bytes.subarray(this.addrAt, this.addrAt + this.addrLen));
  }

  get container(): ContainerRow | undefined {
    return this.state.container(this.thread.proc);
  }

  get userName(): string | undefined {
    return this.state.users.get(this.thread.proc.uid);
  }

  /** Remote endpoint: the socket's, or for an unconnected datagram socket the address this message went to / came from. */
  get raddr(): string | undefined {
    if (!this.fd?.isSocket) return undefined;
    return this.fd.rport !== 0 ? this.fd.raddr : this.sockaddr?.addr;
  }

  get rport(): number | undefined {
    if (!this.fd?.isSocket) return undefined;
    return this.fd.rport !== 0 ? this.fd.rport : this.sockaddr?.port;
  }

  get laddr(): string | undefined {
    return this.fd?.isSocket ? this.fd.laddr : undefined;
  }

  get lport(): number | undefined {
    return this.fd?.isSocket ? this.fd.lport : undefined;
  }

  /** Server and client ends by the socket's role; undefined while the role is unknown. */
  get sip(): string | undefined {
    return this.fd?.role === 'server' ? this.laddr : this.fd?.role === 'client' ? this.raddr : undefined;
  }

  get sport(): number | undefined {
    return this.fd?.role === 'server' ? this.lport : this.fd?.role === 'client' ? this.rport : undefined;
  }

  get cip(): string | undefined {
    return this.fd?.role === 'server' ? this.raddr : this.fd?.role === 'client' ? this.laddr : undefined;
  }

  get cport(): number | undefined {
    return this.fd?.role === 'server' ? this.rport : this.fd?.role === 'client' ? this.lport : undefined;
  }
}

/** Category of an I/O event on an fd of this kind (a switch: the kind comes from the capture). */
function ioCategory(kind: string | undefined): string {
  switch (kind) {
    case 'ipv4': case 'ipv6': return 'net';
    case 'unix': case 'pipe': return 'ipc';
    case 'file': case 'dir': return 'file';
    default: return 'io';
  }
}
