/** PostgreSQL wire protocol v3 frames, per-connection state and record fields. */
import type { FieldDef } from '../types.js';

/**
 * One request as the server sees it: a simple Query, or an extended-query batch (Parse, Bind,
 * Describe, Execute … up to Sync), or a message outside queries (startup, SSL request, …).
 */
export interface PgRequest {
  /** `prepare`: an extended batch that parsed a statement without executing anything. */
  readonly kind: 'simple' | 'extended' | 'prepare' | 'startup' | 'ssl' | 'cancel' | 'terminate' | 'function';
  /** Statement text (from Query, from Parse, or remembered for a named prepared statement). */
  readonly sql: string;
  /** Prepared statement name used by the batch ('' = unnamed). */
  readonly statement: string;
  /** For startup: user and database. */
  readonly user: string;
  readonly database: string;
}

/** The server's messages up to ReadyForQuery (or the one-byte answer to an SSL request). */
export interface PgResponse {
  /** Last CommandComplete tag (SELECT 1, INSERT 0 1, …). */
  readonly tag: string;
  readonly rows: number;
  /** ErrorResponse fields M (message) and C (SQLSTATE); '' when none. */
  readonly error: string;
  readonly sqlstate: string;
}

export interface PgConnState {
  /** An SSLRequest/GSSENCRequest was sent: the server answers with one byte. */
  sslPending: boolean;
  /** The server accepted TLS/GSS encryption: the rest is opaque. */
  opaque: boolean;
  /** Named prepared statements seen in Parse, for Binds that reuse them. */
  readonly statements: Map<string, string>;
}

export const POSTGRES_FIELDS: readonly FieldDef[] = [
  { name: 'pgsql.kind', type: 'string', description: 'simple, extended, prepare, startup, ssl, cancel, terminate or function' },
  { name: 'pgsql.query', type: 'string', description: 'Statement text as sent (bounded)' },
  { name: 'pgsql.statement', type: 'string', description: 'Prepared statement name (extended protocol)' },
  { name: 'pgsql.user', type: 'string', description: 'User of a startup message' },
  { name: 'pgsql.database', type: 'string', description: 'Database of a startup message' },
  { name: 'pgsql.tag', type: 'string', description: 'Last CommandComplete tag' },
  { name: 'pgsql.rows', type: 'u32', description: 'DataRow messages in the response' },
  { name: 'pgsql.sqlstate', type: 'string', description: 'SQLSTATE of an ErrorResponse' },
];
