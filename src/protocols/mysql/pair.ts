/**
 * MySQL pairing: one response per command, in order (FIFO). COM_QUIT, COM_STMT_CLOSE and
 * COM_STMT_SEND_LONG_DATA get none. Prepared statements are resolved to their text by the
 * framers (connection state), so records of EXECUTE carry the statement they ran.
 */
import { FifoPairer } from '../pairing.js';
import type { Exchange } from '../pairing.js';
import { MYSQL, normalizeSql, sqlVerb } from '../sql/normalize.js';
import { expectsAnswer } from './parse.js';
import { COMMAND_NAMES } from './types.js';
import type { MyRequest, MyResponse } from './types.js';

function commandName(req: MyRequest): string {
  return req.command === -1 ? 'CONNECT' : COMMAND_NAMES[req.command] ?? `0x${req.command.toString(16)}`;
}

function operation(req: MyRequest): string {
  if (req.command === 0x16) return 'PREPARE';
  if (req.command === 0x03 || req.command === 0x17) return sqlVerb(req.sql) || commandName(req);
  return commandName(req);
}

export function describeMysql(req: MyRequest, resp: MyResponse | undefined): Exchange {
  const fields: Record<string, string | number> = { 'mysql.command': commandName(req) };
  if (req.sql !== '') fields['mysql.query'] = req.sql;
  if (req.command >= 0x17 && req.command <= 0x1c) fields['mysql.stmt_id'] = req.stmtId;
  if (req.schema !== '') fields['mysql.schema'] = req.schema;
  if (req.user !== '') fields['mysql.user'] = req.user;
  if (resp !== undefined) {
    fields['mysql.rows'] = resp.rows;
    if (resp.kind === 'ok') fields['mysql.affected_rows'] = resp.affected;
    if (resp.kind === 'error') {
      fields['mysql.error_code'] = resp.errorCode;
      fields['mysql.sqlstate'] = resp.sqlstate;
    }
  }
  return {
    operation: operation(req),
    resource: req.sql !== '' ? normalizeSql(req.sql, MYSQL) : req.schema,
    status: resp === undefined ? '' : resp.kind === 'error' ? 'error' : 'ok',
    error: resp?.message ?? '',
    fields,
  };
}

export function mysqlPairer(maxPending?: number): FifoPairer<MyRequest, MyResponse> {
  return new FifoPairer({
    protocol: 'mysql',
    describe: describeMysql,
    expectsResponse: (req) => req.command === -1 || expectsAnswer(req.command),
  }, maxPending);
}
