/**
 * The fields every L7 record has, declared as data like each protocol's own fields, so that
 * `kcap fields` can list them and filters can check names and types.
 */
import type { FieldDef, L7Record } from './types.js';

export const COMMON_FIELDS: readonly FieldDef[] = [
  { name: 'l7.protocol', type: 'string', description: 'Protocol name (http1, redis, dns, …)' },
  { name: 'l7.operation', type: 'string', description: 'What was asked: GET, SET, SELECT, QUERY A, …' },
  { name: 'l7.resource', type: 'string', description: 'What it was asked of: path, key, normalized SQL, DNS name' },
  { name: 'l7.status', type: 'string', description: 'Outcome in the protocol\'s words (HTTP status, DNS rcode, ok/error)' },
  { name: 'l7.error', type: 'string', description: 'Error text from the server, empty when none' },
  { name: 'l7.start', type: 'ns', description: 'First request byte (boot-clock ns)' },
  { name: 'l7.end', type: 'ns', description: 'Last response byte (boot-clock ns)' },
  { name: 'l7.latency', type: 'ns', description: 'end − start' },
  { name: 'l7.req_bytes', type: 'u64', description: 'Request bytes as the syscalls reported them' },
  { name: 'l7.resp_bytes', type: 'u64', description: 'Response bytes as the syscalls reported them' },
  { name: 'l7.reply', type: 'string', description: 'paired, none-expected or missing' },
];

/** A record's common fields by their declared names (protocol fields are in `r.fields`). */
export function commonFieldValues(r: L7Record): Record<string, string | number | bigint> {
  return {
    'l7.protocol': r.protocol,
    'l7.operation': r.operation,
    'l7.resource': r.resource,
    'l7.status': r.status,
    'l7.error': r.error,
    'l7.start': r.startTs,
    'l7.end': r.endTs,
    'l7.latency': r.latencyNs,
    'l7.req_bytes': r.reqBytes,
    'l7.resp_bytes': r.respBytes,
    'l7.reply': r.reply,
  };
}
