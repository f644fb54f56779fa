/**
 * The L7 fields a filter can name: the common fields every record has and each protocol's own,
 * both taken from their declarations in src/protocols (never restated here), plus a few of the
 * connection a record was seen on. A filter on these selects requests, not events; split.ts
 * keeps the two apart.
 *
 * Protocol fields keep the prefix their protocol declares them with (`http.status`,
 * `pgsql.query`, `memcache.key`): Wireshark's names, which differ from some protocol names
 * (http1, postgres, memcached). So that one word names a protocol everywhere, `l7.protocol`
 * (alias `l7.proto`) also takes a protocol's field prefix: `l7.proto = http` is `l7.proto = http1`.
 */
import { endpointText } from '../probe/net.js';
import {
  COMMON_FIELDS, fieldPrefix, PROTOCOLS, type CommonFieldDef, type FieldDef as ProtocolFieldDef, type L7Record,
} from '../protocols/index.js';
import type { FieldType, FieldValue, RecordField } from './fields.js';

/** One end of a record's connection, as the analyzer's connection context gives it. */
export interface RecordPeer {
  readonly addr: string;
  readonly port: number;
  /** 0 when that end was not traced. */
  readonly pid: number;
  readonly comm: string;
}

/** What a record filter reads: the record and its connection (analyze's ConnContext fits). */
export interface RecordSubject {
  readonly rec: L7Record;
  readonly ctx: { readonly client: RecordPeer; readonly server: RecordPeer };
}

const FILTER_TYPE: Readonly<Record<ProtocolFieldDef['type'], FieldType>> = {
  string: 'string', u32: 'number', u64: 'number', ns: 'number', bool: 'bool',
};

/** Record values as filters compare them: ns counts (bigint) become numbers, exact below 2^53. */
function filterValue(v: string | number | bigint | boolean | undefined): FieldValue {
  return typeof v === 'bigint' ? Number(v) : v;
}

/** A protocol name, or the field prefix of one, as its name; undefined for neither. */
export function protocolName(text: string): string | undefined {
  return PROTOCOLS.find((p) => p.name === text || fieldPrefix(p) === text)?.name;
}

/** The protocols as l7.protocol takes them: `http1 (or http), redis, …`. */
function protocolNames(): string {
  return PROTOCOLS.map((p) => (fieldPrefix(p) === p.name ? p.name : `${p.name} (or ${fieldPrefix(p)})`)).join(', ');
}

function common(f: CommonFieldDef): RecordField {
  const value = f.value;
  return { name: f.name, type: FILTER_TYPE[f.type], desc: f.description, scope: 'l7', get: (s) => filterValue(value(s.rec)) };
}

/** The common fields; l7.protocol takes field prefixes as names, and has the alias l7.proto. */
function commonFields(): RecordField[] {
  return COMMON_FIELDS.flatMap((f) => {
    if (f.name !== 'l7.protocol') return [common(f)];
    const protocol: RecordField = { ...common(f), desc: `protocol of the request: ${protocolNames()}`, canonical: protocolName };
    return [protocol, { ...protocol, name: 'l7.proto', desc: 'same as l7.protocol' }];
  });
}

function peerField(name: string, type: FieldType, desc: string, get: (s: RecordSubject) => FieldValue): RecordField {
  return { name, type, desc, scope: 'l7', get };
}

/** The connection fields: endpoints, and the processes where that end was traced. */
const CONTEXT_FIELDS: readonly RecordField[] = [
  peerField('l7.client', 'string', 'client address:port of the request', (s) => endpointText(s.ctx.client.addr, s.ctx.client.port)),
  peerField('l7.server', 'string', 'server address:port of the request', (s) => endpointText(s.ctx.server.addr, s.ctx.server.port)),
  peerField('l7.server_port', 'number', 'server port of the request', (s) => s.ctx.server.port),
  peerField('l7.client_process', 'string', 'command name of the client process, when it was traced', (s) => (s.ctx.client.pid === 0 ? undefined : s.ctx.client.comm)),
  peerField('l7.server_process', 'string', 'command name of the server process, when it was traced', (s) => (s.ctx.server.pid === 0 ? undefined : s.ctx.server.comm)),
];

function protocolField(f: ProtocolFieldDef): RecordField {
  const name = f.name;
  return {
    name, type: FILTER_TYPE[f.type], desc: f.description, scope: 'l7',
    get: (s) => filterValue(s.rec.fields[name]),
  };
}

/** Every L7 field: the common ones, the connection's, then each protocol's in registry order. */
export const L7_FIELDS: readonly RecordField[] = [
  ...commonFields(),
  ...CONTEXT_FIELDS,
  ...PROTOCOLS.flatMap((p) => p.fields.map(protocolField)),
];
