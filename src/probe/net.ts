/**
 * Socket vocabulary shared by conversion, filters and printing: address text (RFC 5952 for IPv6),
 * user sockaddr parsing, and names for the numeric families and L4 protocols in raw records.
 * Everything here takes untrusted bytes and returns undefined rather than throwing.
 */

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

const FAMILY_KIND: Readonly<Record<number, string>> = { [AF_UNIX]: 'unix', [AF_INET]: 'ipv4', [AF_INET6]: 'ipv6' };
const L4_NAME: Readonly<Record<number, string>> = { [IPPROTO_TCP]: 'tcp', [IPPROTO_UDP]: 'udp' };
const L4_NUMBER: Readonly<Record<string, number>> = { tcp: IPPROTO_TCP, tcp6: IPPROTO_TCP, udp: IPPROTO_UDP, udp6: IPPROTO_UDP };

/** fd.type text of a socket family ('ipv4', 'ipv6', 'unix'), or 'socket' for the rest. */
export function familyKind(family: number): string {
  return FAMILY_KIND[family] ?? 'socket';
}

/** 'tcp', 'udp', 'unix' (unix sockets have no L4 number), or '' when unknown. */
export function l4Name(l4proto: number, family: number): string {
  if (family === AF_UNIX) return 'unix';
  return L4_NAME[l4proto] ?? '';
}

/** IPPROTO number of a table's l4proto text ('tcp', 'udp6', ...), 0 when not TCP/UDP. */
export function l4Number(text: string | undefined): number {
  return text === undefined ? 0 : L4_NUMBER[text] ?? 0;
}

/** Dotted quad of the 4 bytes at `at`. */
export function ipv4Text(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** RFC 5952 text of the 16 bytes at `at` (longest zero run of 2+ groups compressed, v4-mapped dotted). */
export function ipv6Text(b: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[at + 2 * i]! << 8) | b[at + 2 * i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${ipv4Text(b, at + 12)}`;
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/** Address text of a 16-byte kernel address field for `family`; '' for other families. */
export function addrText(b: Uint8Array, at: number, family: number): string {
  if (family === AF_INET) return ipv4Text(b, at);
  if (family === AF_INET6) return ipv6Text(b, at);
  return '';
}

export interface SockAddr {
  readonly family: number;
  /** IP text, or the path of a unix socket ('' for unnamed, '@name' for abstract). */
  readonly addr: string;
  readonly port: number;
}

/** Parses a user-space sockaddr (as passed to connect/sendto/...); undefined when too short or unknown. */
export function parseSockaddr(b: Uint8Array): SockAddr | undefined {
  if (b.length < 2) return undefined;
  const family = b[0]! | (b[1]! << 8);
  const port = b.length >= 4 ? (b[2]! << 8) | b[3]! : 0;
  if (family === AF_INET && b.length >= 8) return { family, addr: ipv4Text(b, 4), port };
  if (family === AF_INET6 && b.length >= 24) return { family, addr: ipv6Text(b, 8), port };
  if (family === AF_UNIX) return { family, addr: unixPath(b.subarray(2)), port: 0 };
  return undefined;
}

function unixPath(p: Uint8Array): string {
  if (p.length === 0) return '';
  const abstract = p[0] === 0;
  const body = abstract ? p.subarray(1) : p.subarray(0, p.indexOf(0) < 0 ? p.length : p.indexOf(0));
  const text = String.fromCharCode(...body.subarray(0, 108));
  return abstract ? `@${text.replace(/\0+$/, '')}` : text;
}

/** "addr:port" with IPv6 addresses bracketed, as sysdig and most tools print endpoints. */
export function endpointText(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}
