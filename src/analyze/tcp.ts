/**
 * TCP health per connection from the kernel's tcp tracepoints: retransmits, resets each way, and
 * the smoothed RTT the kernel measured. These events often fire in softirq context, so the
 * process in their header means nothing; connections are named by their 4-tuple only.
 */
import type { KEvent } from '../probe/event.js';
import type { FdInfo } from '../probe/state.js';
import { endpointText } from '../probe/net.js';

export interface TcpConnHealth {
  readonly local: string;
  readonly remote: string;
  readonly retransmits: number;
  readonly resetsSent: number;
  readonly resetsReceived: number;
  /** From tcp_probe: samples, last and largest smoothed RTT in microseconds (0 when none). */
  readonly rttSamples: number;
  readonly srttLastUs: number;
  readonly srttMaxUs: number;
}

export interface TcpTotals {
  readonly connections: number;
  readonly retransmits: number;
  readonly resetsSent: number;
  readonly resetsReceived: number;
  /** Transitions to ESTABLISHED seen (connections opened while recording). */
  readonly established: number;
  /** Of resetsSent: resets the kernel sent for segments no socket owned (connection refused). */
  readonly resetsWithoutSocket: number;
}

/** One thing the kernel's TCP tracepoints said about a socket, as it happened. */
export interface TcpFact {
  /** Boot-clock ns. */
  readonly ts: bigint;
  readonly kind: 'established' | 'retransmit' | 'reset-sent' | 'reset-received' | 'rtt';
  readonly local: string;
  readonly remote: string;
  /** For `rtt`: the kernel's smoothed RTT, microseconds; 0 otherwise. */
  readonly srttUs: number;
}

export type TcpListener = (fact: TcpFact) => void;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const KIND: Readonly<Record<string, TcpFact['kind']>> = {
  tcp_retransmit: 'retransmit', tcp_send_reset: 'reset-sent', tcp_receive_reset: 'reset-received', tcp_probe: 'rtt',
};

const TCP_ESTABLISHED = 1;

function readU32(ev: KEvent, field: string): number {
  const f = ev.layout.event.fieldByName.get(field);
  if (!f || f.type !== 'u32') return 0;
  const b = ev.bytes;
  const at = ev.offset + f.offset;
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** Health per socket, and each fact as it comes to the listeners (the stream exports take); a
 * fact is only made while there are any. */
export class TcpHealth {
  constructor(private readonly listeners: readonly TcpListener[] = []) {}

  private readonly conns: Mutable<TcpConnHealth>[] = [];
  private readonly byPorts = new Map<number, { laddr: string; raddr: string; health: Mutable<TcpConnHealth> }[]>();
  private established = 0;
  private socketlessResets = 0;
  /** Socketless resets with no tuple (captures from before the recorder read it from the segment). */
  private untupledResets = 0;

  onEvent(ev: KEvent): void {
    if (ev.category !== 'tcp') return;
    const name = ev.name;
    // A reset for a segment no socket owns (a refused connection) carries the segment's tuple
    // and no socket inode; older captures carry no tuple for it, and it counts in the totals only.
    const socketless = name === 'tcp_send_reset' && (!ev.fd || ev.fd.ino === 0);
    if (socketless) this.socketlessResets++;
    if (!ev.fd || (ev.fd.lport === 0 && ev.fd.rport === 0)) {
      if (socketless) this.untupledResets++;
      return;
    }
    if (name === 'sock_set_state') {
      if (readU32(ev, 'newstate') !== TCP_ESTABLISHED) return;
      this.established++;
      if (this.listeners.length) this.tell(ev, 'established', endpointText(ev.fd.laddr, ev.fd.lport), endpointText(ev.fd.raddr, ev.fd.rport), 0);
      return;
    }
    const c = this.conn(ev.fd);
    let srtt = 0;
    if (name === 'tcp_retransmit') c.retransmits++;
    else if (name === 'tcp_send_reset') c.resetsSent++;
    else if (name === 'tcp_receive_reset') c.resetsReceived++;
    else if (name === 'tcp_probe') {
      srtt = readU32(ev, 'srtt_us');
      c.rttSamples++;
      c.srttLastUs = srtt;
      c.srttMaxUs = Math.max(c.srttMaxUs, srtt);
    }
    const kind = KIND[name];
    if (this.listeners.length && kind) this.tell(ev, kind, c.local, c.remote, srtt);
  }

  private tell(ev: KEvent, kind: TcpFact['kind'], local: string, remote: string, srttUs: number): void {
    const fact: TcpFact = { ts: ev.ts, kind, local, remote, srttUs };
    for (const listener of this.listeners) listener(fact);
  }

  /** tcp_probe fires on every ACK: look connections up by ports first, text only on a miss. */
  private conn(fd: FdInfo): Mutable<TcpConnHealth> {
    const ports = fd.lport * 0x10000 + fd.rport;
    let list = this.byPorts.get(ports);
    if (!list) this.byPorts.set(ports, (list = []));
    for (const e of list) if (e.laddr === fd.laddr && e.raddr === fd.raddr) return e.health;
    const local = endpointText(fd.laddr, fd.lport);
    const remote = endpointText(fd.raddr, fd.rport);
    const health = { local, remote, retransmits: 0, resetsSent: 0, resetsReceived: 0, rttSamples: 0, srttLastUs: 0, srttMaxUs: 0 };
    list.push({ laddr: fd.laddr, raddr: fd.raddr, health });
    this.conns.push(health);
    return health;
  }

  /** Connections with any trouble or RTT samples, worst first (retransmits + resets), then by name. */
  connections(): TcpConnHealth[] {
    const trouble = (c: TcpConnHealth): number => c.retransmits + c.resetsSent + c.resetsReceived;
    return [...this.conns].sort((a, b) => trouble(b) - trouble(a)
      || (a.local < b.local ? -1 : a.local > b.local ? 1 : 0) || (a.remote < b.remote ? -1 : a.remote > b.remote ? 1 : 0));
  }

  totals(): TcpTotals {
    let retransmits = 0;
    let resetsSent = this.untupledResets;
    let resetsReceived = 0;
    for (const c of this.conns) {
      retransmits += c.retransmits;
      resetsSent += c.resetsSent;
      resetsReceived += c.resetsReceived;
    }
    return {
      connections: this.conns.length, retransmits, resetsSent, resetsReceived, established: this.established,
      resetsWithoutSocket: this.socketlessResets,
    };
  }
}
