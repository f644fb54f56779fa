/** MySQL and MariaDB client/server protocol over TCP. */
import { openParser } from '../engine.js';
import type { Direction, ProtocolSpec } from '../types.js';
import { mysqlPairer } from './pair.js';
import { RequestFramer, ResponseFramer } from './parse.js';
import { MYSQL_FIELDS } from './types.js';
import type { MyConnState } from './types.js';

/** The server speaks first: a protocol-10 greeting with sequence 0 is unmistakable. */
function detect(first: Uint8Array, dir: Direction, port?: number): number {
  const hint = port === 3306 ? 0.3 : 0;
  if (first.length < 5) return 0;
  const len = (first[0] as number) | ((first[1] as number) << 8) | ((first[2] as number) << 16);
  const seq = first[3];
  if (dir === 'resp') {
    if (seq !== 0 || first[4] !== 0x0a || len < 20 || len > 1024) return 0;
    const nul = first.indexOf(0, 5);
    return nul > 5 && nul < 5 + 64 ? 0.9 : 0.3 + hint;
  }
  // A COM_QUERY whose length matches the bytes seen.
  return seq === 0 && first[4] === 0x03 && len === first.length - 4 ? 0.4 + hint : 0;
}

export const mysql: ProtocolSpec = {
  name: 'mysql',
  description: 'MySQL/MariaDB: COM_QUERY, prepared statements, OK/ERR/result sets',
  transports: ['stream'],
  ports: [3306],
  fields: MYSQL_FIELDS,
  detect,
  open(options = {}) {
    const conn: MyConnState = {
      phase: 'command', capabilities: 0, serverCapabilities: 0, opaque: false, expect: [], statements: new Map(),
    };
    return openParser('mysql', {
      req: new RequestFramer(conn),
      resp: new ResponseFramer(conn),
      pairer: mysqlPairer(options.maxPending),
    }, options);
  },
};
