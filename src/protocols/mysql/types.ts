/** MySQL/MariaDB client/server protocol frames, per-connection state and record fields. */
import type { FieldDef } from '../types.js';

/** What kind of answer a command gets, which decides how the response is framed. */
export type Expect = 'auth' | 'generic' | 'ok' | 'prepare' | 'fieldlist' | 'string';

export interface MyRequest {
  /** Command byte (COM_QUERY = 3, …); -1 for the handshake response. */
  readonly command: number;
  /** Statement text: COM_QUERY, COM_STMT_PREPARE, or the prepared statement an id refers to. */
  readonly sql: string;
  readonly stmtId: number;
  /** COM_INIT_DB schema, or the handshake's user and database. */
  readonly schema: string;
  readonly user: string;
}

export interface MyResponse {
  readonly kind: 'ok' | 'error' | 'resultset' | 'prepared' | 'other';
  readonly rows: number;
  readonly affected: number;
  readonly errorCode: number;
  readonly sqlstate: string;
  readonly message: string;
}

export interface MyConnState {
  /** `command` unless a greeting was seen and the handshake is not over. */
  phase: 'command' | 'greeted' | 'auth';
  /** Capabilities both sides agreed on; 0 when the handshake was not captured. */
  capabilities: number;
  serverCapabilities: number;
  /** TLS was negotiated: the rest is opaque. */
  opaque: boolean;
  /** Answers expected for commands sent, oldest first; `sql` is the text a PREPARE carried. */
  readonly expect: { kind: Expect; sql: string }[];
  /** Prepared statements by id, from COM_STMT_PREPARE responses. */
  readonly statements: Map<number, string>;
}

export const CLIENT_CONNECT_WITH_DB = 0x8;
export const CLIENT_PROTOCOL_41 = 0x200;
export const CLIENT_SSL = 0x800;
export const CLIENT_SECURE_CONNECTION = 0x8000;
export const CLIENT_PLUGIN_AUTH_LENENC = 0x200000;
export const CLIENT_DEPRECATE_EOF = 0x1000000;
export const SERVER_MORE_RESULTS_EXISTS = 0x8;

export const COMMAND_NAMES: Readonly<Record<number, string>> = {
  0x01: 'QUIT', 0x02: 'INIT_DB', 0x03: 'QUERY', 0x04: 'FIELD_LIST', 0x05: 'CREATE_DB', 0x06: 'DROP_DB',
  0x07: 'REFRESH', 0x08: 'SHUTDOWN', 0x09: 'STATISTICS', 0x0a: 'PROCESS_INFO', 0x0c: 'PROCESS_KILL',
  0x0d: 'DEBUG', 0x0e: 'PING', 0x11: 'CHANGE_USER', 0x16: 'STMT_PREPARE', 0x17: 'STMT_EXECUTE',
  0x18: 'STMT_SEND_LONG_DATA', 0x19: 'STMT_CLOSE', 0x1a: 'STMT_RESET', 0x1b: 'SET_OPTION',
  0x1c: 'STMT_FETCH', 0x1f: 'RESET_CONNECTION',
};

export const MYSQL_FIELDS: readonly FieldDef[] = [
  { name: 'mysql.command', type: 'string', description: 'Command (QUERY, STMT_PREPARE, STMT_EXECUTE, PING, CONNECT, …)' },
  { name: 'mysql.query', type: 'string', description: 'Statement text as sent, or of the prepared statement (bounded)' },
  { name: 'mysql.stmt_id', type: 'u32', description: 'Prepared statement id' },
  { name: 'mysql.schema', type: 'string', description: 'Schema of COM_INIT_DB or of the handshake' },
  { name: 'mysql.user', type: 'string', description: 'User of the handshake' },
  { name: 'mysql.rows', type: 'u32', description: 'Rows in the result set(s)' },
  { name: 'mysql.affected_rows', type: 'u64', description: 'Affected rows of an OK packet' },
  { name: 'mysql.error_code', type: 'u32', description: 'Error number of an ERR packet' },
  { name: 'mysql.sqlstate', type: 'string', description: 'SQLSTATE of an ERR packet' },
];
