/** HTTP/1.x pairing: responses come back in request order (RFC 9112 §9.3.2), so FIFO. */
import { FifoPairer } from '../pairing.js';
import type { Exchange } from '../pairing.js';
import type { HttpRequest, HttpResponse } from './types.js';

export function describeHttp(req: HttpRequest, resp: HttpResponse | undefined): Exchange {
  const fields: Record<string, string | number> = {
    'http.method': req.method, 'http.path': req.path, 'http.host': req.host, 'http.version': req.version,
  };
  if (resp !== undefined) {
    fields['http.status'] = resp.status;
    fields['http.reason'] = resp.reason;
  }
  return {
    operation: req.method,
    resource: req.path,
    status: resp === undefined ? '' : String(resp.status),
    error: resp !== undefined && resp.status >= 400 ? resp.reason || String(resp.status) : '',
    fields,
  };
}

export function httpPairer(maxPending?: number): FifoPairer<HttpRequest, HttpResponse> {
  return new FifoPairer({ protocol: 'http1', describe: describeHttp }, maxPending);
}
