/** DNS message summary, names of codes, and record fields. */
import type { FieldDef } from '../types.js';

/** What the records need from one DNS message (RFC 1035 §4.1). */
export interface DnsMessage {
  readonly id: number;
  /** true for a response (QR bit). */
  readonly response: boolean;
  readonly opcode: number;
  readonly rcode: number;
  /** Name of the first question, lower-cased, without the trailing dot ('.' for the root). */
  readonly qname: string;
  readonly qtype: number;
  readonly answers: number;
  /** TC bit: the answer did not fit (UDP) and the client should retry over TCP. */
  readonly truncated: boolean;
}

export const DNS_FIELDS: readonly FieldDef[] = [
  { name: 'dns.id', type: 'u32', description: 'Transaction id' },
  { name: 'dns.qname', type: 'string', description: 'Name of the first question' },
  { name: 'dns.qtype', type: 'string', description: 'Type of the first question (A, AAAA, MX, …)' },
  { name: 'dns.rcode', type: 'string', description: 'Response code (NOERROR, NXDOMAIN, SERVFAIL, …)' },
  { name: 'dns.answers', type: 'u32', description: 'Records in the answer section' },
  { name: 'dns.truncated', type: 'bool', description: 'TC bit set in the response' },
];

const QTYPES: Readonly<Record<number, string>> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 28: 'AAAA',
  33: 'SRV', 35: 'NAPTR', 39: 'DNAME', 41: 'OPT', 43: 'DS', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY',
  50: 'NSEC3', 52: 'TLSA', 64: 'SVCB', 65: 'HTTPS', 251: 'IXFR', 252: 'AXFR', 255: 'ANY', 257: 'CAA',
};
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];
const OPCODES = ['QUERY', 'IQUERY', 'STATUS', 'OPCODE3', 'NOTIFY', 'UPDATE', 'DSO'];

export function qtypeName(t: number): string {
  return QTYPES[t] ?? `TYPE${t}`;
}
export function rcodeName(r: number): string {
  return RCODES[r] ?? `RCODE${r}`;
}
export function opcodeName(o: number): string {
  return OPCODES[o] ?? `OPCODE${o}`;
}
