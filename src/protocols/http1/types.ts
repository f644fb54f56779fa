/** HTTP/1.x frames, per-connection state and record fields. */
import type { FieldDef } from '../types.js';

export interface HttpRequest {
  readonly method: string;
  /** Request target without query or fragment (the path, for grouping). */
  readonly path: string;
  readonly host: string;
  readonly version: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly reason: string;
  readonly version: string;
}

/** What the two directions of one connection tell each other. */
export interface HttpConnState {
  /** Methods of requests whose responses have not started, oldest first (HEAD has no body). */
  readonly methods: string[];
  /** After 101 Switching Protocols or a CONNECT tunnel: no more HTTP/1 on this connection. */
  opaque: boolean;
}

export const HTTP1_FIELDS: readonly FieldDef[] = [
  { name: 'http.method', type: 'string', description: 'Request method' },
  { name: 'http.path', type: 'string', description: 'Request target without query string' },
  { name: 'http.host', type: 'string', description: 'Host header' },
  { name: 'http.version', type: 'string', description: 'HTTP version of the request (HTTP/1.1)' },
  { name: 'http.status', type: 'u32', description: 'Response status code' },
  { name: 'http.reason', type: 'string', description: 'Response reason phrase' },
];

export const METHODS = [
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH',
  'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'PURGE',
] as const;
