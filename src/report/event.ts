/**
 * Text and JSON renderings of one KEvent, for `kcap print` (and anything else that shows single
 * events). Deterministic by construction: times are UTC formatted by hand from integers, numbers
 * print without locale, object keys come in a fixed order, so the same capture prints the same
 * bytes under any TZ or LANG.
 */
import type { KEvent } from '../probe/event.js';
import { endpointText, parseSockaddr } from '../probe/net.js';
import { RecordDecoder, isDecodeFailure, type FieldValue } from '../schema/decode.js';
import type { ResolvedField, VarSpec } from '../schema/schema.js';
import type { DissectLine } from '../protocols/index.js';
import { oneLine, utcText } from './units.js';

/** How payload bytes are shown: short printable excerpt, all printable (-A), hex dump (-X). */
export type PayloadStyle = 'short' | 'ascii' | 'hex';

export interface FormatOptions {
  readonly payload: PayloadStyle;
}

/** Fields shown in the event's own columns (fd, tuple, res, latency) or not worth showing. */
const SHOWN_ELSEWHERE: ReadonlySet<string> = new Set(['res', 'latency', 'fd', 'ino', 'laddr', 'raddr', 'lport', 'rport', 'family', 'l4proto', 'socktype']);
const SHORT_PAYLOAD = 64;
const FAMILY_NAME: Readonly<Record<number, string>> = { 1: 'AF_UNIX', 2: 'AF_INET', 10: 'AF_INET6', 16: 'AF_NETLINK' };

const ERRNO: Readonly<Record<number, string>> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES',
  14: 'EFAULT', 17: 'EEXIST', 20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL', 24: 'EMFILE', 28: 'ENOSPC', 32: 'EPIPE',
  88: 'ENOTSOCK', 97: 'EAFNOSUPPORT', 98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL', 101: 'ENETUNREACH', 103: 'ECONNABORTED',
  104: 'ECONNRESET', 107: 'ENOTCONN', 110: 'ETIMEDOUT', 111: 'ECONNREFUSED', 113: 'EHOSTUNREACH', 114: 'EALREADY', 115: 'EINPROGRESS',
};

/** Decoders per schema, so formatting many events does not rebuild one each time. */
const decoders = new WeakMap<object, RecordDecoder>();

function decoderFor(ev: KEvent): RecordDecoder {
  let d = decoders.get(ev.schema);
  if (d === undefined) {
    d = new RecordDecoder(ev.schema);
    decoders.set(ev.schema, d);
  }
  return d;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

export function resText(res: number): string {
  return res < 0 ? `${res}(${ERRNO[-res] ?? `errno ${-res}`})` : String(res);
}

/** Printable rendering: bytes 0x20-0x7e as themselves, newlines kept when `keepNewlines`, the rest as '.'. */
export function printable(bytes: Uint8Array, keepNewlines: boolean): string {
  let s = '';
  for (const b of bytes) s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : keepNewlines && b === 0x0a ? '\n' : '.';
  return s;
}

/** 16 bytes a line: offset, hex, printable, like `sysdig -X`. */
export function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    lines.push(`\t0x${at.toString(16).padStart(4, '0')}:  ${hex.padEnd(47)}  ${printable(row, false)}`);
  }
  return lines.join('\n');
}

function fieldText(f: ResolvedField, v: FieldValue): string {
  if (v instanceof Uint8Array) return [...v].map((b) => b.toString(16).padStart(2, '0')).join('');
  if (f.fmt === 'hex') return `0x${v.toString(16)}`;
  if (f.fmt === 'sockfamily') return FAMILY_NAME[Number(v)] ?? String(v);
  if (f.fmt === 'oct') return `0${v.toString(8)}`;
  if (f.fmt === 'res') return resText(Number(v));
  return String(v);
}

function varText(spec: VarSpec, v: Uint8Array | string): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (spec.fmt === 'sockaddr') {
    const sa = parseSockaddr(v);
    return sa === undefined ? `(${v.length} bytes)` : sa.port === 0 && sa.addr.startsWith('/') ? sa.addr : endpointText(sa.addr, sa.port);
  }
  if (spec.fmt === 'argv') return JSON.stringify(utf8.decode(v).replace(/\0$/, '').split('\0').join(' '));
  return `(${v.length} bytes)`;
}

/** The event's own arguments (those not shown in other columns), decoded by the capture's schema. */
export function eventArgs(ev: KEvent): [string, string][] {
  const rec = decoderFor(ev).decode(ev.bytes, ev.offset);
  if (isDecodeFailure(rec)) return [['error', rec.error]];
  const out: [string, string][] = [];
  for (const f of rec.event.fields) {
    if (SHOWN_ELSEWHERE.has(f.name) || f.name.startsWith('pad')) continue;
    // Flag words are zero on most calls; printing flags=0x0 on every line is noise.
    if (f.fmt === 'hex' && rec.fields[f.name] === 0) continue;
    out.push([f.name, fieldText(f, rec.fields[f.name]!)]);
  }
  for (const v of rec.event.vars) {
    if (v.name === 'data') continue;
    const val = rec.vars[v.name]!;
    if (typeof val !== 'string' && val.length === 0) continue;
    out.push([v.name, varText(v, val)]);
  }
  return out;
}

function fdText(ev: KEvent): string {
  if (ev.fd === undefined) return ev.fdNum < 0 ? '' : `fd=${ev.fdNum}`;
  const mark = ev.fd.origin === 'inferred' ? '?' : '';
  const proto = ev.fd.l4Name ? `${ev.fd.l4Name} ` : '';
  const num = ev.fdNum < 0 ? '' : `fd=${ev.fdNum}`;
  return `${num}(${ev.fd.kind}${mark} ${proto}${ev.fd.name})`.replace(' )', ')');
}

/**
 * A protocol dissector's lines under an event: text indented and kept to one line each, carried
 * payload bytes printable as -A shows any payload.
 */
export function dissectedText(lines: readonly DissectLine[]): string {
  return lines.map((l) => (typeof l === 'string' ? `  ${oneLine(l)}` : printable(l, true))).join('\n');
}

/**
 * One line per event (more with -A/-X payloads): num time cpu comm (pid:tid) dir type fd args.
 * With -A, `dissected` (the lines of the connection's protocol dissector) replaces the raw text.
 */
export function formatLine(ev: KEvent, opts: FormatOptions, dissected?: readonly DissectLine[]): string {
  const parts = [
    String(ev.num), utcText(ev.utcNs), String(ev.cpu), ev.thread.comm || '?', `(${ev.pid}:${ev.tid})`,
    ev.dir === 'in' ? '<' : ev.dir === 'out' ? '>' : '-', ev.name,
  ];
  const fd = fdText(ev);
  if (fd) parts.push(fd);
  if (ev.res !== undefined) parts.push(`res=${resText(ev.res)}`);
  if (ev.latency !== undefined) parts.push(`latency=${ev.latency}ns`);
  for (const [k, v] of eventArgs(ev)) parts.push(`${k}=${v}`);
  const data = ev.payload;
  if (data.length === 0) return parts.join(' ');
  if (opts.payload === 'short') {
    const cut = data.subarray(0, SHORT_PAYLOAD);
    parts.push(`data=${printable(cut, false)}${data.length > SHORT_PAYLOAD ? '...' : ''}`);
    return parts.join(' ');
  }
  if (opts.payload === 'ascii' && dissected !== undefined) return `${parts.join(' ')}\n${dissectedText(dissected)}`;
  return `${parts.join(' ')}\n${opts.payload === 'hex' ? hexDump(data) : printable(data, true)}`;
}

function fdJson(ev: KEvent): Record<string, unknown> | null {
  const fd = ev.fd;
  if (fd === undefined) return null;
  return {
    num: ev.fdNum, gen: fd.gen, type: fd.kind, name: fd.name, origin: fd.origin, role: fd.role || null,
    l4proto: fd.l4Name || null, sip: ev.sip ?? null, sport: ev.sport ?? null, cip: ev.cip ?? null, cport: ev.cport ?? null,
  };
}

function payloadJson(data: Uint8Array, style: PayloadStyle): string {
  if (style === 'hex') return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
  if (style === 'ascii') return printable(data, true);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

/** One JSON object (no newline), keys in a fixed order; payload base64, or hex (-X) / printable (-A). */
export function formatJson(ev: KEvent, opts: FormatOptions): string {
  const proc = ev.thread.proc;
  return JSON.stringify({
    num: ev.num, ts: ev.ts.toString(), time: utcText(ev.utcNs), cpu: ev.cpu, type: ev.name, category: ev.category,
    dir: ev.dir || null, pid: ev.pid, tid: ev.tid, comm: ev.thread.comm, exe: proc.exe, container: proc.containerId || null,
    partial: ev.thread.partial, fd: fdJson(ev), res: ev.res ?? null, latency: ev.latency ?? null,
    args: Object.fromEntries(eventArgs(ev)), data: ev.payload.length ? payloadJson(ev.payload, opts.payload) : null,
  });
}
