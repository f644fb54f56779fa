/**
 * The filter fields: each declared once as data (dotted name, type, one-line description, getter),
 * the way Wireshark dissectors declare theirs. The filter compiler, `kcap fields` and anything that
 * prints fields by name read this one table. Names follow sysdig's where sysdig has the field, so
 * users' filters carry over; a getter returns undefined when the event has no such value, and a
 * comparison against a missing value is false. This file holds the event fields; l7-fields.ts
 * the fields of L7 records (requests), which a filter may name too.
 */
import type { KEvent } from '../probe/event.js';
import type { RecordSubject } from './l7-fields.js';

export type FieldType = 'string' | 'number' | 'bool';
export type FieldValue = string | number | boolean | undefined;

interface FieldBase {
  readonly name: string;
  readonly type: FieldType;
  readonly desc: string;
}

/** A field of a replayed event. */
export interface EventField extends FieldBase {
  readonly scope: 'event';
  readonly get: (ev: KEvent) => FieldValue;
}

/** A field of an L7 record (a request with its response) on its connection. */
export interface RecordField extends FieldBase {
  readonly scope: 'l7';
  readonly get: (s: RecordSubject) => FieldValue;
  /** The value an equality test means, for text that names it in another way (a protocol's field
   * prefix for its name); undefined when the text can never match. */
  readonly canonical?: (text: string) => string | undefined;
}

export type FieldDef = EventField | RecordField;

const latin1 = new TextDecoder('latin1');

function field(name: string, type: FieldType, desc: string, get: (ev: KEvent) => FieldValue): EventField {
  return { name, type, desc, scope: 'event', get };
}

/** The container of an event's process; sysdig calls the host 'host'. */
function containerOf(ev: KEvent, pick: 'id' | 'name' | 'image'): string {
  const id = ev.thread.proc.containerId;
  if (id === '') return 'host';
  return pick === 'id' ? id : ev.container?.[pick] ?? '';
}

export const FIELDS: readonly EventField[] = [
  field('evt.num', 'number', 'record number in the capture, from 1 (stable whatever the filter)', (ev) => ev.num),
  field('evt.type', 'string', 'event name: read, write, connect, accept4, openat, fork, exec, tcp_retransmit, ...', (ev) => ev.name),
  field('evt.category', 'string', "what the event is about: net, file, ipc, process, tcp ('io' for I/O on an fd of unknown kind)", (ev) => ev.category),
  field('evt.dir', 'string', "data direction of I/O events: 'in' (read/recv) or 'out' (write/send)", (ev) => ev.dir || undefined),
  field('evt.is_io', 'bool', 'true for events that read or write data', (ev) => ev.isIo),
  field('evt.is_io_read', 'bool', 'true for events that read data', (ev) => ev.dir === 'in'),
  field('evt.is_io_write', 'bool', 'true for events that write data', (ev) => ev.dir === 'out'),
  field('evt.res', 'number', 'return value: bytes transferred, new fd, 0, or -errno', (ev) => ev.res),
  field('evt.failed', 'bool', 'true when the call returned an error (res < 0)', (ev) => (ev.res === undefined ? undefined : ev.res < 0)),
  field('evt.latency', 'number', 'syscall duration, nanoseconds', (ev) => ev.latency),
  field('evt.cpu', 'number', 'CPU the event happened on', (ev) => ev.cpu),
  field('evt.buflen', 'number', 'bytes of payload captured with the event (at most the snaplen)', (ev) => (ev.isIo ? ev.payload.length : undefined)),
  field('evt.buffer', 'string', 'captured payload, bytes as Latin-1 characters (for contains)', (ev) => (ev.isIo ? latin1.decode(ev.payload) : undefined)),
  field('proc.name', 'string', 'command name of the thread (comm, 15 characters at most)', (ev) => ev.thread.comm),
  field('proc.pid', 'number', 'process id (tgid)', (ev) => ev.pid),
  field('proc.ppid', 'number', 'parent process id (0 when unknown)', (ev) => ev.thread.proc.ppid),
  field('proc.exe', 'string', 'executable path', (ev) => ev.thread.proc.exe),
  field('proc.cmdline', 'string', 'full command line, arguments separated by spaces', (ev) => ev.thread.proc.cmdline(ev.thread.comm)),
  field('proc.args', 'string', 'arguments after the program name, separated by spaces', (ev) => ev.thread.proc.args.slice(1).join(' ')),
  field('proc.is_partial', 'bool', 'true when neither the snapshot nor an exec told us who the process is', (ev) => ev.thread.partial),
  field('thread.tid', 'number', 'thread id (tid)', (ev) => ev.tid),
  field('fd.num', 'number', 'file descriptor number', (ev) => (ev.fdNum < 0 ? undefined : ev.fdNum)),
  field('fd.name', 'string', 'file path, or client:port->server:port of a socket', (ev) => ev.fd?.name),
  field('fd.type', 'string', 'file, dir, ipv4, ipv6, unix, pipe, ..., unknown', (ev) => ev.fd?.kind),
  field('fd.l4proto', 'string', 'tcp, udp or unix', (ev) => ev.fd?.l4Name || undefined),
  field('fd.role', 'string', "'client' or 'server' side of a socket, when known", (ev) => ev.fd?.role || undefined),
  field('fd.origin', 'string', "where the fd context came from: 'snapshot', 'event', or 'inferred' (a best guess)", (ev) => ev.fd?.origin),
  field('fd.gen', 'number', 'generation of the fd entry: distinguishes fd numbers reused after close', (ev) => ev.fd?.gen),
  field('fd.sip', 'string', 'server IP address', (ev) => ev.sip),
  field('fd.cip', 'string', 'client IP address', (ev) => ev.cip),
  field('fd.sport', 'number', 'server port of a socket', (ev) => ev.sport),
  field('fd.cport', 'number', 'client port of a socket', (ev) => ev.cport),
  field('fd.lip', 'string', 'local IP address', (ev) => ev.laddr),
  field('fd.rip', 'string', 'remote IP address', (ev) => ev.raddr),
  field('fd.lport', 'number', 'local port of a socket', (ev) => ev.lport),
  field('fd.rport', 'number', 'remote port of a socket', (ev) => ev.rport),
  field('container.id', 'string', "container id, 'host' for processes outside containers", (ev) => containerOf(ev, 'id')),
  field('container.name', 'string', "container name, 'host' for processes outside containers", (ev) => containerOf(ev, 'name')),
  field('container.image', 'string', "container image, 'host' for processes outside containers", (ev) => containerOf(ev, 'image')),
  field('user.uid', 'number', 'user id of the process', (ev) => (ev.thread.proc.uid < 0 ? undefined : ev.thread.proc.uid)),
  field('user.name', 'string', 'user name of the process', (ev) => ev.userName),
];
