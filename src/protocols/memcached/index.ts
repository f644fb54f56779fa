/** memcached text protocol (classic and meta commands) over TCP. */
import { matchAscii } from '../bytes.js';
import { openParser } from '../engine.js';
import type { Direction, ProtocolSpec } from '../types.js';
import { memcachedPairer } from './pair.js';
import { COMMANDS, RequestFramer, ResponseFramer } from './parse.js';
import { MEMCACHED_FIELDS } from './types.js';

const STRONG = ['get ', 'gets ', 'set ', 'add ', 'delete ', 'incr ', 'decr ', 'cas ', 'mg ', 'ms ', 'md ', 'stats\r\n', 'version\r\n'];

function detect(first: Uint8Array, dir: Direction, port?: number): number {
  const hint = port === 11211 ? 0.3 : 0;
  if (dir === 'resp') return hint > 0 && (matchAscii(first, 0, 'VALUE ') || matchAscii(first, 0, 'STORED\r\n') || matchAscii(first, 0, 'END\r\n')) ? 0.6 : 0;
  if (STRONG.some((s) => matchAscii(first, 0, s))) return 0.6 + hint;
  return COMMANDS.some((c) => matchAscii(first, 0, `${c} `)) ? 0.3 + hint : 0;
}

export const memcached: ProtocolSpec = {
  name: 'memcached',
  description: 'memcached text protocol: retrieval, storage, arithmetic and meta commands',
  transports: ['stream'],
  ports: [11211],
  fields: MEMCACHED_FIELDS,
  detect,
  open(options = {}) {
    return openParser('memcached', {
      req: new RequestFramer(),
      resp: new ResponseFramer(),
      pairer: memcachedPairer(options.maxPending),
    }, options);
  },
};
