/** DNS over UDP (one datagram per message) and over TCP (length-prefixed). */
import { openParser } from '../engine.js';
import type { Direction, ProtocolSpec } from '../types.js';
import { DnsPairer } from './pair.js';
import { DatagramFramer, parseDnsMessage, StreamFramer } from './parse.js';
import { DNS_FIELDS } from './types.js';

/**
 * A plausible query (or response, on the server side) with one question. The bytes are a
 * datagram or, on a stream, start with the 2-byte length: both readings are tried.
 */
function detect(first: Uint8Array, dir: Direction, port?: number): number {
  const hint = port === 53 || port === 5353 ? 0.3 : 0;
  const fits = (b: Uint8Array): boolean => {
    const m = parseDnsMessage(b);
    return typeof m !== 'string' && m.response === (dir === 'resp') && m.opcode === 0 && m.qname !== ''
      && (m.response || m.answers === 0);
  };
  const prefixed = first.length >= 2 && ((first[0] as number) << 8 | (first[1] as number)) === first.length - 2;
  if (prefixed && fits(first.subarray(2))) return 0.6 + hint;
  return fits(first) ? 0.5 + hint : 0;
}

export const dns: ProtocolSpec = {
  name: 'dns',
  description: 'DNS over UDP and TCP: query name and type, rcode, answer count; paired by id',
  transports: ['datagram', 'stream'],
  ports: [53, 5353],
  fields: DNS_FIELDS,
  detect,
  open(options = {}) {
    const datagram = options.transport === 'datagram';
    return openParser('dns', {
      req: datagram ? new DatagramFramer(false) : new StreamFramer(false),
      resp: datagram ? new DatagramFramer(true) : new StreamFramer(true),
      pairer: new DnsPairer(options.maxPending),
    }, options);
  },
};
