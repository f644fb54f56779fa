/** Redis serialization protocol, RESP2 and RESP3, over TCP. */
import { indexOfCrlf, parseDecimal } from '../bytes.js';
import { openParser } from '../engine.js';
import type { Direction, ProtocolSpec } from '../types.js';
import { RedisPairer } from './pair.js';
import { RespFramer } from './parse.js';
import { REDIS_FIELDS } from './types.js';

/** `*N\r\n$L\r\n` opens a client command; replies are too varied to tell apart cheaply. */
function detect(first: Uint8Array, dir: Direction, port?: number): number {
  const hint = port === 6379 ? 0.3 : 0;
  if (dir === 'resp') return hint > 0 && first[0] === 0x2b ? 0.5 : 0;
  if (first[0] !== 0x2a) return 0;
  const eol = indexOfCrlf(first, 1, Math.min(first.length, 16));
  if (eol === -1) return first.length < 16 ? 0.2 + hint : 0;
  if (parseDecimal(first, 1, eol) <= 0) return 0;
  if (first.length < eol + 3) return 0.4 + hint;
  return first[eol + 2] === 0x24 ? 0.8 + hint / 2 : 0;
}

export const redis: ProtocolSpec = {
  name: 'redis',
  description: 'Redis RESP2/RESP3: commands, keys, error replies, pipelines, pub/sub pushes',
  transports: ['stream'],
  ports: [6379],
  fields: REDIS_FIELDS,
  detect,
  open(options = {}) {
    return openParser('redis', {
      req: new RespFramer(true),
      resp: new RespFramer(false),
      pairer: new RedisPairer(options.maxPending),
    }, options);
  },
};
