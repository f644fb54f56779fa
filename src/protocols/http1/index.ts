/** HTTP/1.0 and HTTP/1.1 over TCP. */
import { matchAscii } from '../bytes.js';
import { openParser } from '../engine.js';
import type { Direction, ProtocolSpec } from '../types.js';
import { httpPairer } from './pair.js';
import { RequestFramer, ResponseFramer } from './parse.js';
import { HTTP1_FIELDS, METHODS } from './types.js';
import type { HttpConnState } from './types.js';

function detect(first: Uint8Array, dir: Direction, port?: number): number {
  const hint = port === 80 || port === 8080 ? 0.05 : 0;
  if (dir === 'resp') return matchAscii(first, 0, 'HTTP/1.') ? 0.9 + hint : 0;
  for (const m of METHODS) {
    if (!matchAscii(first, 0, `${m} `)) continue;
    const line = Buffer.from(first.buffer, first.byteOffset, Math.min(first.length, 8192)).toString('latin1');
    const eol = line.indexOf('\r\n');
    if (eol !== -1) return / HTTP\/1\.[01]$/.test(line.slice(0, eol)) ? 0.95 : 0;
    return (m === 'GET' || m === 'POST' ? 0.6 : 0.4) + hint;
  }
  return 0;
}

export const http1: ProtocolSpec = {
  name: 'http1',
  description: 'HTTP/1.x (RFC 9112): methods, paths, status, chunked and length bodies, pipelining',
  transports: ['stream'],
  ports: [80, 8080, 8000, 3000],
  fields: HTTP1_FIELDS,
  detect,
  open(options = {}) {
    const conn: HttpConnState = { methods: [], opaque: false };
    return openParser('http1', {
      req: new RequestFramer(conn),
      resp: new ResponseFramer(conn),
      pairer: httpPairer(options.maxPending),
    }, options);
  },
};
