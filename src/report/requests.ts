/**
 * The per-request view of `kcap requests`: one line per L7 record, like `sysdig -c httplog` or
 * `tshark -Y http`, or (--json) one object per line. Lines are rendered one at a time as the
 * analyzer streams records, so nothing is buffered and the output starts at once. Deterministic:
 * UTC times from integers, numbers without locale, keys in a fixed order
 * (formats/requests-json.md documents the JSON object).
 */
import { processText } from '../analyze/aggregate.js';
import type { ConnContext, Peer } from '../analyze/connections.js';
import type { RequestSummary } from '../analyze/result.js';
import { bootToUtcNs, type ClockAnchor } from '../capture/source.js';
import { endpointText } from '../probe/net.js';
import type { FieldValue, L7Record } from '../protocols/index.js';
import { bytesText, durationText, oneLine, utcText } from './units.js';

/** One request as both renderings show it; the JSON object has exactly these keys, in this order. */
export interface RequestRow extends RequestSummary {
  readonly reply: L7Record['reply'];
  readonly clientPid: number;
  readonly clientContainer: string;
  readonly serverPid: number;
  readonly serverContainer: string;
  readonly l4: ConnContext['l4'];
  readonly conn: number;
  readonly reqBytes: number;
  readonly respBytes: number;
  readonly fields: Readonly<Record<string, FieldValue>>;
}

/** Text lines cut a resource (long SQL) to this many characters; --json has it whole. */
export const RESOURCE_WIDTH = 120;
/** Widths the short columns are padded to, so that lines mostly align without buffering any:
 * the longest protocol name, most operations and statuses, any latency (`123ms`, `1.23s`). */
const PROTOCOL_WIDTH = 9;
const OPERATION_WIDTH = 7;
const STATUS_WIDTH = 7;
const LATENCY_WIDTH = 6;

/** One end as the row shows it: pid 0 (not traced) has no process or container. */
function peerOf(p: Peer): { addr: string; pid: number; comm: string; container: string } {
  const traced = p.pid !== 0;
  return { addr: endpointText(p.addr, p.port), pid: p.pid, comm: traced ? p.comm : '', container: traced ? p.containerId : '' };
}

export function requestRow(rec: L7Record, ctx: ConnContext, clock: ClockAnchor): RequestRow {
  const client = peerOf(ctx.client);
  const server = peerOf(ctx.server);
  return {
    startUtc: utcText(bootToUtcNs(clock, rec.startTs)), latencyNs: Number(rec.latencyNs),
    protocol: rec.protocol, operation: rec.operation, resource: rec.resource, status: rec.status, error: rec.error,
    reply: rec.reply,
    client: client.addr, clientPid: client.pid, clientProcess: client.comm, clientContainer: client.container,
    server: server.addr, serverPid: server.pid, serverProcess: server.comm, serverContainer: server.container,
    l4: ctx.l4, conn: ctx.conn, reqBytes: rec.reqBytes, respBytes: rec.respBytes, fields: rec.fields,
  };
}


function cut(s: string, width: number): string {
  return s.length <= width ? s : `${s.slice(0, width - 1)}…`;
}

/** What the report calls a request's answer when it has no status. */
function statusText(r: RequestRow): string {
  if (r.status !== '') return r.status;
  return r.reply === 'none-expected' ? 'noreply' : 'none';
}

/**
 * `TIME  CLIENT → SERVER  CLIENT-PROCESS → SERVER-PROCESS  PROTOCOL  OPERATION  STATUS  LATENCY
 * REQ/RESP-BYTES  RESOURCE  [error="…"]`; '-' stands for what is unknown.
 */
export function requestText(r: RequestRow): string {
  const proc = (pid: number, comm: string, containerId: string): string => processText({ pid, comm, containerId, addr: '', port: 0 }) || '-';
  const parts = [
    r.startUtc, `${r.client} → ${r.server}`,
    `${proc(r.clientPid, r.clientProcess, r.clientContainer)} → ${proc(r.serverPid, r.serverProcess, r.serverContainer)}`,
    r.protocol.padEnd(PROTOCOL_WIDTH), (oneLine(r.operation) || '-').padEnd(OPERATION_WIDTH),
    oneLine(statusText(r)).padEnd(STATUS_WIDTH), durationText(r.latencyNs).padStart(LATENCY_WIDTH),
    `${bytesText(r.reqBytes)}/${bytesText(r.respBytes)}`, cut(oneLine(r.resource), RESOURCE_WIDTH) || '-',
  ];
  if (r.error !== '') parts.push(`error=${JSON.stringify(r.error)}`);
  return `${parts.join('  ')}\n`;
}

/** One JSON object and a newline. */
export function requestJson(r: RequestRow): string {
  return `${JSON.stringify(r)}\n`;
}
