/**
 * What every I/O event a filter can select has in common, in terms the recorder's BPF programs
 * can check before they copy a payload: that the fd is a socket, and that a TCP connection has an
 * end on one of a few ports. Like a capture filter in tcpdump, but derived from the one filter
 * language: `kcap record FILTER` still applies the whole filter in user space; the programs only
 * drop what it certainly rejects, so the file is the same and recording costs less.
 *
 * Every rule here must be implied by the filter: `needs(f)` may say less than f, never more.
 */
import type { FieldDef } from './fields.js';
import type { FilterNode, Literal } from './parse.js';

export interface IoNeeds {
  /** Only I/O on sockets can be selected. */
  readonly sockets: boolean;
  /** Only TCP I/O with one end's port among these can be selected (other sockets may be);
   * empty: any port. */
  readonly ports: readonly number[];
}

const ANYTHING: IoNeeds = { sockets: false, ports: [] };

/** Fields whose value an I/O event has only when its fd is a socket: any test on them is false
 * for other fds (a test against a missing value is false, see compile.ts). */
const SOCKET_FIELDS = new Set(['fd.l4proto', 'fd.role', 'fd.sip', 'fd.cip', 'fd.sport', 'fd.cport', 'fd.lip', 'fd.rip', 'fd.lport', 'fd.rport']);
/** Port fields: each is the local or the remote port of the event's socket. */
const PORT_FIELDS = new Set(['fd.sport', 'fd.cport', 'fd.lport', 'fd.rport']);
/** Values of fields that name socket kinds only (any other value may be a file's). */
const SOCKET_VALUES: Readonly<Record<string, ReadonlySet<Literal>>> = {
  'fd.type': new Set(['ipv4', 'ipv6', 'unix', 'socket']),
  'evt.category': new Set(['net']),
};

/** What the I/O events `filter` selects need. */
export function ioNeeds(filter: FilterNode): IoNeeds {
  switch (filter.kind) {
    case 'and': return both(ioNeeds(filter.left), ioNeeds(filter.right));
    case 'or': return either(ioNeeds(filter.left), ioNeeds(filter.right));
    case 'not': return ANYTHING;
    case 'exists': return SOCKET_FIELDS.has(filter.field.name) ? { sockets: true, ports: [] } : ANYTHING;
    case 'in': return test(filter.field, filter.values);
    case 'compare': return filter.op === '=' ? test(filter.field, [filter.value]) : SOCKET_FIELDS.has(filter.field.name) ? { sockets: true, ports: [] } : ANYTHING;
  }
}

/** A field equal to one of `values`. */
function test(field: FieldDef, values: readonly Literal[]): IoNeeds {
  const kinds = SOCKET_VALUES[field.name];
  if (kinds) return { sockets: values.every((v) => kinds.has(v)), ports: [] };
  if (!SOCKET_FIELDS.has(field.name)) return ANYTHING;
  const ports = PORT_FIELDS.has(field.name) && values.every(isPort) ? [...new Set(values as number[])] : [];
  return { sockets: true, ports: ports.sort((a, b) => a - b) };
}

function isPort(v: Literal): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

/** Both hold: each side's needs do, so the stricter of each. */
function both(a: IoNeeds, b: IoNeeds): IoNeeds {
  const ports = a.ports.length === 0 ? b.ports : b.ports.length === 0 || a.ports.length <= b.ports.length ? a.ports : b.ports;
  return { sockets: a.sockets || b.sockets, ports };
}

/** One of them holds: only what both sides need. */
function either(a: IoNeeds, b: IoNeeds): IoNeeds {
  const union = [...new Set([...a.ports, ...b.ports])].sort((x, y) => x - y);
  const ports = a.ports.length > 0 && b.ports.length > 0 ? union : [];
  return { sockets: a.sockets && b.sockets, ports };
}
