/**
 * DNS message parsing (RFC 1035 §4.1): header and first question, enough for records. Over UDP
 * each datagram is one message; over TCP (RFC 7766) each message has a 2-byte length prefix.
 * A truncated capture still yields a message when its header and question were captured.
 */
import type { Framer, Step } from '../types.js';
import { NEED } from '../types.js';
import type { DnsMessage } from './types.js';

const HEADER = 12;
const MAX_NAME = 255;
const MAX_POINTERS = 16;

function u16(b: Uint8Array, at: number): number {
  return ((b[at] as number) << 8) | (b[at + 1] as number);
}

function labelText(b: Uint8Array, start: number, len: number): string {
  let s = '';
  for (let i = start; i < start + len; i++) {
    let c = b[i] as number;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c === 0x2e || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
    else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\${c.toString().padStart(3, '0')}`;
  }
  return s;
}

/** Domain name at `at`: its text and where the question continues; a string on malformed input. */
function readName(b: Uint8Array, at: number): { name: string; next: number } | string {
  const labels: string[] = [];
  let pos = at;
  let next = -1;
  let hops = 0;
  let length = 0;
  for (;;) {
    if (pos >= b.length) return 'name runs past the message';
    const len = b[pos] as number;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= b.length) return 'name runs past the message';
      if (++hops > MAX_POINTERS) return 'compression pointer loop';
      const target = ((len & 0x3f) << 8) | (b[pos + 1] as number);
      if (target >= pos) return 'forward compression pointer';
      if (next === -1) next = pos + 2;
      pos = target;
      continue;
    }
    if (len & 0xc0) return 'bad label type';
    if (len === 0) break;
    if (pos + 1 + len > b.length) return 'label runs past the message';
    length += len + 1;
    if (length > MAX_NAME) return 'name too long';
    labels.push(labelText(b, pos + 1, len));
    pos += 1 + len;
  }
  return { name: labels.length === 0 ? '.' : labels.join('.'), next: next === -1 ? pos + 1 : next };
}

/** Header and first question of the message in `b`, or why it is not one. */
export function parseDnsMessage(b: Uint8Array): DnsMessage | string {
  if (b.length < HEADER) return 'shorter than a DNS header';
  const flags = u16(b, 2);
  const qdcount = u16(b, 4);
  const base = {
    id: u16(b, 0),
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    rcode: flags & 0xf,
    answers: u16(b, 6),
    truncated: (flags & 0x0200) !== 0,
  };
  if (base.opcode > 6) return 'unknown opcode';
  if (qdcount === 0) return { ...base, qname: '', qtype: 0 };
  if (qdcount > 32) return 'implausible question count';
  const name = readName(b, HEADER);
  if (typeof name === 'string') return name;
  if (name.next + 4 > b.length) return 'question runs past the message';
  return { ...base, qname: name.name, qtype: u16(b, name.next) };
}

function asStep(m: DnsMessage | string, consumed: number, wantResponse: boolean): Step<DnsMessage> {
  if (typeof m === 'string') return { kind: 'invalid', reason: m };
  if (m.response !== wantResponse) return { kind: 'invalid', reason: wantResponse ? 'query where a response was expected' : 'response where a query was expected' };
  return { kind: 'frame', consumed, frame: m };
}

/** One datagram = one message. */
export class DatagramFramer implements Framer<DnsMessage> {
  constructor(private readonly responses: boolean) {}
  parse(buf: Uint8Array): Step<DnsMessage> {
    return asStep(parseDnsMessage(buf), buf.length, this.responses);
  }
  resync(buf: Uint8Array): number {
    return buf.length;
  }
  reset(): void {}
}

/** Length-prefixed messages on a TCP stream. */
export class StreamFramer implements Framer<DnsMessage> {
  constructor(private readonly responses: boolean) {}

  parse(buf: Uint8Array): Step<DnsMessage> {
    if (buf.length < 2) return NEED;
    const len = u16(buf, 0);
    if (len < HEADER) return { kind: 'invalid', reason: 'DNS/TCP length shorter than a header' };
    const have = Math.min(buf.length, 2 + len);
    const m = parseDnsMessage(buf.subarray(2, have));
    if (typeof m === 'string' && have < 2 + len) return NEED;
    return asStep(m, 2 + len, this.responses);
  }

  /** No marker to look for in a length-prefixed stream: give up until the next connection. */
  resync(buf: Uint8Array): number {
    return buf.length;
  }

  reset(): void {}
}
