/**
 * L7 protocol analysis: detect a connection's protocol, parse both directions incrementally,
 * pair requests with responses into records. Connection tracking feeds a ConnectionParser per
 * connection (from `open` of the detected protocol) and collects the L7Records it returns.
 */
export type {
  ConnectionParser, Direction, DissectLine, Dissector, FieldDef, FieldType, FieldValue, L7Record, ParserOptions, ParserStats,
  ProtocolSpec, Reply, Transport,
} from './types.js';
export { COMMON_FIELDS, commonFieldValues, fieldPrefix, type CommonFieldDef } from './fields.js';
export { detectProtocol, MIN_CONFIDENCE, PROTOCOLS, protocolByName, recordFields } from './registry.js';
export type { Detection } from './registry.js';
export { normalizeSql, sqlVerb, MYSQL, POSTGRES } from './sql/normalize.js';
