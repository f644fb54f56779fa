/**
 * PostgreSQL pairing: the server answers requests in order, each answer ending in
 * ReadyForQuery (or the one-byte SSL answer), so FIFO. Terminate and CancelRequest get no answer.
 */
import { FifoPairer } from '../pairing.js';
import type { Exchange } from '../pairing.js';
import { normalizeSql, POSTGRES, sqlVerb } from '../sql/normalize.js';
import type { PgRequest, PgResponse } from './types.js';

function operation(req: PgRequest): string {
  switch (req.kind) {
    case 'simple': case 'extended': return sqlVerb(req.sql) || (req.kind === 'extended' ? 'SYNC' : 'QUERY');
    case 'ssl': return 'SSLREQUEST';
    case 'prepare': return 'PREPARE';
    default: return req.kind.toUpperCase();
  }
}

function resource(req: PgRequest): string {
  if (req.kind === 'startup') return req.database;
  return normalizeSql(req.sql, POSTGRES);
}

export function describePostgres(req: PgRequest, resp: PgResponse | undefined): Exchange {
  const fields: Record<string, string | number> = { 'pgsql.kind': req.kind };
  if (req.sql !== '') fields['pgsql.query'] = req.sql;
  if (req.statement !== '') fields['pgsql.statement'] = req.statement;
  if (req.kind === 'startup') {
    fields['pgsql.user'] = req.user;
    fields['pgsql.database'] = req.database;
  }
  if (resp !== undefined) {
    fields['pgsql.tag'] = resp.tag;
    fields['pgsql.rows'] = resp.rows;
    if (resp.sqlstate !== '') fields['pgsql.sqlstate'] = resp.sqlstate;
  }
  return {
    operation: operation(req),
    resource: resource(req),
    status: resp === undefined ? '' : resp.error !== '' ? 'error' : 'ok',
    error: resp?.error ?? '',
    fields,
  };
}

export function postgresPairer(maxPending?: number): FifoPairer<PgRequest, PgResponse> {
  return new FifoPairer({
    protocol: 'postgres',
    describe: describePostgres,
    expectsResponse: (req) => req.kind !== 'terminate' && req.kind !== 'cancel',
  }, maxPending);
}
