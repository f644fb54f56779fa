/** Redis RESP2/RESP3 frames and record fields. */
import type { FieldDef } from '../types.js';

/** The parts of one RESP value the records need. */
export interface RespFrame {
  /** Type byte of the top-level value ('*', '+', '-', '$', '>', …); 'i' for an inline command. */
  readonly type: string;
  /** The value itself when scalar, else its first two scalar elements (command and key). */
  readonly words: readonly string[];
  /** Elements of a top-level aggregate (arguments of a command). */
  readonly count: number;
  /** Error text of a `-` or `!` reply. */
  readonly error: string;
}

export const REDIS_FIELDS: readonly FieldDef[] = [
  { name: 'redis.command', type: 'string', description: 'Command name, upper-cased' },
  { name: 'redis.key', type: 'string', description: 'First key argument (empty for keyless commands)' },
  { name: 'redis.argc', type: 'u32', description: 'Number of arguments including the command' },
  { name: 'redis.reply_type', type: 'string', description: 'RESP type of the reply: simple, error, integer, bulk, array, map, …' },
];

export const REPLY_TYPES: Readonly<Record<string, string>> = {
  '+': 'simple', '-': 'error', ':': 'integer', '$': 'bulk', '*': 'array', '_': 'null', ',': 'double',
  '#': 'boolean', '!': 'blob-error', '=': 'verbatim', '(': 'bignum', '%': 'map', '~': 'set', '>': 'push',
};
