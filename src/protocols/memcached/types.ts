/** memcached text protocol frames and record fields. */
import type { FieldDef } from '../types.js';

export interface McRequest {
  /** Command word, lower-cased (get, set, incr, mg, …). */
  readonly command: string;
  readonly key: string;
  /** Keys asked for by a retrieval command (get k1 k2 … asks for several). */
  readonly keys: number;
  /** `noreply` (classic) or the `q` flag (meta): the server may send nothing back. */
  readonly quiet: boolean;
}

export interface McResponse {
  /** First word of the reply (STORED, END, VALUE, HD, CLIENT_ERROR, …); NUMBER for incr/decr. */
  readonly word: string;
  /** Values returned by a retrieval reply. */
  readonly hits: number;
  /** Text after CLIENT_ERROR / SERVER_ERROR. */
  readonly error: string;
}

export const MEMCACHED_FIELDS: readonly FieldDef[] = [
  { name: 'memcache.command', type: 'string', description: 'Command word (get, set, delete, incr, mg, …)' },
  { name: 'memcache.key', type: 'string', description: 'First key of the command' },
  { name: 'memcache.keys', type: 'u32', description: 'Keys asked for by a retrieval command' },
  { name: 'memcache.hits', type: 'u32', description: 'Values returned by a retrieval reply' },
  { name: 'memcache.response', type: 'string', description: 'First word of the reply' },
];
