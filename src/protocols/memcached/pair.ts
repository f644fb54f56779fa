/** memcached pairing: one reply per command in order (FIFO); quiet commands may get none. */
import { FifoPairer } from '../pairing.js';
import type { Exchange } from '../pairing.js';
import type { McRequest, McResponse } from './types.js';

const RETRIEVAL = new Set(['get', 'gets', 'gat', 'gats', 'mg']);

function status(req: McRequest, resp: McResponse): string {
  if (resp.error !== '' || resp.word === 'ERROR') return 'error';
  if (RETRIEVAL.has(req.command)) return resp.hits > 0 ? 'hit' : 'miss';
  return resp.word === 'NUMBER' ? 'ok' : resp.word.toLowerCase();
}

export function describeMemcached(req: McRequest, resp: McResponse | undefined): Exchange {
  const fields: Record<string, string | number> = {
    'memcache.command': req.command, 'memcache.key': req.key, 'memcache.keys': req.keys,
  };
  if (resp !== undefined) {
    fields['memcache.hits'] = resp.hits;
    fields['memcache.response'] = resp.word;
  }
  return {
    operation: req.command.toUpperCase(),
    resource: req.key,
    status: resp === undefined ? '' : status(req, resp),
    error: resp === undefined ? '' : resp.error || (resp.word === 'ERROR' ? 'ERROR' : ''),
    fields,
  };
}

export function memcachedPairer(maxPending?: number): FifoPairer<McRequest, McResponse> {
  return new FifoPairer({
    protocol: 'memcached',
    describe: describeMemcached,
    expectsResponse: (req) => !req.quiet,
  }, maxPending);
}
