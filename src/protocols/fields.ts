/**
 * The fields every L7 record has, declared as data like each protocol's own fields, so that
 * `kcap fields` can list them and filters can check names and types. Each carries how to read
 * it from a record, so the filter and `commonFieldValues` read the same thing.
 */
import type { FieldDef, L7Record } from './types.js';

/** A common field and its value on a record. */
export interface CommonFieldDef extends FieldDef {
  readonly value: (r: L7Record) => string | number | bigint;
}

export const COMMON_FIELDS: readonly CommonFieldDef[] = [
  { name: 'l7.protocol', type: 'string', description: 'Protocol name (http1, redis, dns, …)', value: (r) => r.protocol },
  { name: 'l7.operation', type: 'string', description: 'What was asked: GET, SET, SELECT, QUERY A, …', value: (r) => r.operation },
  { name: 'l7.resource', type: 'string', description: 'What it was asked of: path, key, normalized SQL, DNS name', value: (r) => r.resource },
  { name: 'l7.status', type: 'string', description: 'Outcome in the protocol\'s words (HTTP status, DNS rcode, ok/error)', value: (r) => r.status },
  { name: 'l7.error', type: 'string', description: 'Error text from the server, empty when none', value: (r) => r.error },
  { name: 'l7.start', type: 'ns', description: 'First request byte (boot-clock ns)', value: (r) => r.startTs },
  { name: 'l7.end', type: 'ns', description: 'Last response byte (boot-clock ns)', value: (r) => r.endTs },
  { name: 'l7.latency', type: 'ns', description: 'end − start, in ns', value: (r) => r.latencyNs },
  { name: 'l7.req_bytes', type: 'u64', description: 'Request bytes as the syscalls reported them', value: (r) => r.reqBytes },
  { name: 'l7.resp_bytes', type: 'u64', description: 'Response bytes as the syscalls reported them', value: (r) => r.respBytes },
  { name: 'l7.reply', type: 'string', description: 'paired, none-expected or missing', value: (r) => r.reply },
];

/** A record's common fields by their declared names (protocol fields are in `r.fields`). */
export function commonFieldValues(r: L7Record): Record<string, string | number | bigint> {
  return Object.fromEntries(COMMON_FIELDS.map((f) => [f.name, f.value(r)]));
}

/**
 * The namespace of a protocol's own fields: the part before the dot that all of them share
 * (`http` for http1, `pgsql` for postgres, `memcache` for memcached: Wireshark's names, which
 * users already type), or the protocol's name when it declares none. The fields are the one
 * source; the registry test checks that each protocol's share one prefix, unique to it.
 */
export function fieldPrefix(p: { readonly name: string; readonly fields: readonly FieldDef[] }): string {
  const first = p.fields[0]?.name;
  return first === undefined ? p.name : first.slice(0, first.indexOf('.'));
}
