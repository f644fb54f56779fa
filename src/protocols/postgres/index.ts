/** PostgreSQL frontend/backend protocol v3 over TCP. */
import { openParser } from '../engine.js';
import type { Direction, ProtocolSpec } from '../types.js';
import { postgresPairer } from './pair.js';
import { RequestFramer, ResponseFramer } from './parse.js';
import { POSTGRES_FIELDS } from './types.js';
import type { PgConnState } from './types.js';

const STARTUP_CODES = new Set([196608, 80877103, 80877104, 80877102]);

/** A startup packet (length + known code) is unmistakable; a typed Query is likely. */
function detect(first: Uint8Array, dir: Direction, port?: number): number {
  const hint = port === 5432 ? 0.3 : 0;
  if (dir !== 'req' || first.length < 8) return 0;
  const be = Buffer.from(first.buffer, first.byteOffset, first.length);
  const len = be.readUInt32BE(0);
  if (len >= 8 && len <= 10_000 && STARTUP_CODES.has(be.readUInt32BE(4))) return 0.95;
  const typed = be.readUInt32BE(1);
  if ((first[0] === 0x51 || first[0] === 0x50) && typed >= 5 && typed <= 1 << 20) return 0.3 + hint;
  return 0;
}

export const postgres: ProtocolSpec = {
  name: 'postgres',
  description: 'PostgreSQL v3: simple and extended queries, normalized statements, errors',
  transports: ['stream'],
  ports: [5432],
  fields: POSTGRES_FIELDS,
  detect,
  open(options = {}) {
    const conn: PgConnState = { sslPending: false, opaque: false, statements: new Map() };
    return openParser('postgres', {
      req: new RequestFramer(conn),
      resp: new ResponseFramer(conn),
      pairer: postgresPairer(options.maxPending),
    }, options);
  },
};
