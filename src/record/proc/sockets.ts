/**
 * Socket tables of one network namespace, from /proc/PID/net/{tcp,tcp6,udp,udp6,raw,raw6,unix,
 * netlink}, keyed by socket inode so an fd's `socket:[ino]` finds its addresses. These files show
 * the namespace of the process they are read through, so the snapshot reads them once per
 * distinct namespace.
 */
import { SocketAddress } from 'node:net';
import type { FdRow } from '../../capture/tables.js';
import { HOST_LE, readProc } from './procfs.js';

/** What /proc/net says of a socket: the socket part of an FdRow. */
export type SocketInfo = Pick<FdRow, 'kind' | 'l4proto' | 'laddr' | 'lport' | 'raddr' | 'rport' | 'state' | 'path'>;

/** Socket inode → what the namespace's tables say about it. */
export type SocketTable = Map<number, SocketInfo>;

/** include/net/tcp_states.h, as numbered in /proc/net/tcp's `st` column. */
const TCP_STATES: readonly string[] = ['', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2',
  'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV', 'BOUND_INACTIVE'];

/** The bytes of one 32-bit word the kernel printed with %08X from memory in host order. */
function wordBytes(hex: string): number[] {
  const v = Number.parseInt(hex, 16);
  const be = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  return HOST_LE ? be.reverse() : be;
}

/**
 * Text of an address column: 8 hex digits for IPv4, 32 for IPv6 (four host-order words).
 * IPv6 uses the canonical RFC 5952 form (v4-mapped as ::ffff:a.b.c.d). '' when malformed.
 */
export function procAddrText(hex: string): string {
  if (!/^[0-9A-Fa-f]+$/.test(hex)) return '';
  if (hex.length === 8) return wordBytes(hex).join('.');
  if (hex.length !== 32) return '';
  const bytes = [0, 8, 16, 24].flatMap((i) => wordBytes(hex.slice(i, i + 8)));
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // libuv's inet_ntop gives the canonical form; Node exposes it through SocketAddress.
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** `ADDR:PORT` → [address text, port]. */
function endpoint(col: string): [string, number] {
  const colon = col.lastIndexOf(':');
  return [procAddrText(col.slice(0, colon)), Number.parseInt(col.slice(colon + 1), 16) || 0];
}

/** Header line skipped, the rest split on whitespace. */
function rows(text: string): string[][] {
  return text.split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((r) => r.length > 1);
}

/** Rows of tcp/tcp6/udp/udp6/raw/raw6: `sl local rem st queues tr retr uid timeout inode ...`. */
export function parseInetTable(text: string, l4proto: string, ipv6: boolean, into: SocketTable): void {
  for (const r of rows(text)) {
    const inode = Number(r[9]);
    if (!Number.isSafeInteger(inode) || inode === 0 || r[1] === undefined || r[2] === undefined) continue;
    const [laddr, lport] = endpoint(r[1]);
    const [raddr, rport] = endpoint(r[2]);
    const state = l4proto === 'tcp' ? TCP_STATES[Number.parseInt(r[3] ?? '', 16)] : undefined;
    into.set(inode, { kind: ipv6 ? 'ipv6' : 'ipv4', l4proto, laddr, lport, raddr, rport, ...(state ? { state } : {}) });
  }
}

/** Rows of /proc/net/unix: `Num RefCount Protocol Flags Type St Inode [Path]` (abstract paths start with '@'). */
export function parseUnixTable(text: string, into: SocketTable): void {
  for (const r of rows(text)) {
    const inode = Number(r[6]);
    if (!Number.isSafeInteger(inode) || inode === 0) continue;
    const path = r.slice(7).join(' ');
    into.set(inode, { kind: 'unix', l4proto: 'unix', ...(path ? { path } : {}) });
  }
}

/** Rows of /proc/net/netlink: `sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode`. */
export function parseNetlinkTable(text: string, into: SocketTable): void {
  for (const r of rows(text)) {
    const inode = Number(r[9]);
    if (Number.isSafeInteger(inode) && inode !== 0) into.set(inode, { kind: 'netlink' });
  }
}

const INET_FILES: readonly [string, string, boolean][] = [
  ['tcp', 'tcp', false], ['tcp6', 'tcp', true], ['udp', 'udp', false], ['udp6', 'udp', true],
  ['raw', 'raw', false], ['raw6', 'raw', true],
];

/** All socket tables of the namespace `pid` lives in; undefined when the process is gone. */
export function readSocketTable(pid: number): SocketTable | undefined {
  const table: SocketTable = new Map();
  const read = (name: string): string | undefined => readProc(`/proc/${pid}/net/${name}`);
  for (const [file, l4proto, ipv6] of INET_FILES) {
    const text = read(file);
    if (text === undefined && file === 'tcp') return undefined;
    // tcp6/udp6/raw6 are absent when IPv6 is disabled.
    if (text) parseInetTable(text, l4proto, ipv6, table);
  }
  parseUnixTable(read('unix') ?? '', table);
  parseNetlinkTable(read('netlink') ?? '', table);
  return table;
}
