/**
 * HTTP/2 (RFC 9113) over cleartext TCP, prior knowledge or joined mid-way, and gRPC on top of
 * it. One connection parser serves both: each stream's record is `http2`, or `grpc` when it is a
 * gRPC call. `grpc` is registered for its fields and name only; it is never detected itself.
 */
import { openParser } from '../engine.js';
import type { ParserOptions, ProtocolSpec } from '../types.js';
import { openHttp2Dissector } from './dissect.js';
import { detectHttp2, Http2Framer, newHttp2ConnState } from './frames.js';
import { Http2Pairer } from './pair.js';
import { GRPC_FIELDS, HTTP2_FIELDS } from './types.js';

function open(options: ParserOptions = {}) {
  const conn = newHttp2ConnState();
  return openParser('http2', {
    req: new Http2Framer('req', conn),
    resp: new Http2Framer('resp', conn),
    pairer: new Http2Pairer(conn, options.maxPending),
  }, options);
}

export const http2: ProtocolSpec = {
  name: 'http2',
  description: 'HTTP/2 (RFC 9113): frames, HPACK, concurrent streams; from the preface or joined mid-way',
  transports: ['stream'],
  ports: [80, 8080, 50051, 2379],
  fields: HTTP2_FIELDS,
  detect: (first, dir) => detectHttp2(first, dir),
  open,
  dissect: openHttp2Dissector,
};

export const grpc: ProtocolSpec = {
  name: 'grpc',
  description: 'gRPC over HTTP/2: package.Service/Method, grpc-status, message counts each way',
  transports: ['stream'],
  ports: [],
  fields: GRPC_FIELDS,
  detect: () => 0,
  open,
};
