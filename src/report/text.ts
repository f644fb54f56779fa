/**
 * The terminal report of `kcap analyze`: sections with aligned tables, in the order a person
 * debugging asks — what was captured, which protocols, per endpoint and operation, who talks to
 * whom, the slowest requests, TCP health, and last what the numbers may be missing. Every list
 * is cut to `top` rows with a line saying what was left out, and long cells (SQL, keys, errors)
 * to a width, so the report stays readable whatever the capture; --json has it all.
 */
import type { AnalysisResult } from '../analyze/analyze.js';
import type { LatencySummary } from '../analyze/aggregate.js';
import { clip, renderTable, type Column } from './table.js';
import { DEFAULT_TOP, busiest, type Kept } from './top.js';
import { bytesText, durationText } from './units.js';

export interface TextOptions {
  /** Rows per list (endpoints, service map; the slowest and TCP lists come cut to it). Default DEFAULT_TOP. */
  readonly top?: number;
}

/** Widest resource and error cell: a normalized SQL statement can run to kilobytes. */
const CELL_WIDTH = 60;

const R = 'right' as const;
const LATENCY_COLUMNS: readonly Column[] = [
  { title: 'requests', align: R }, { title: 'errors', align: R }, { title: 'no-resp', align: R },
  { title: 'p50', align: R }, { title: 'p90', align: R }, { title: 'p99', align: R }, { title: 'max', align: R },
];

function latencyCells(s: LatencySummary): string[] {
  return [String(s.count), String(s.errors), String(s.noResponse), durationText(s.p50Ns), durationText(s.p90Ns),
    durationText(s.p99Ns), durationText(s.maxNs)];
}

function section(title: string, body: string): string {
  return `${title}\n${body}\n`;
}

function header(r: AnalysisResult): string {
  const c = r.capture;
  const window = r.window.fromNs !== null || r.window.toNs !== null
    ? `\nwindow    ${r.window.fromNs === null ? 'start' : durationText(r.window.fromNs)} to ${r.window.toNs === null ? 'end' : durationText(r.window.toNs)} after the first event`
    : '';
  const protos = r.protocols.map((p) => `${p.protocol} ${p.count}`).join(', ');
  return [
    `host      ${c.hostname} (kernel ${c.kernel})`,
    `capture   ${c.startUtc} to ${c.endUtc} (${durationText(c.durationNs)}), ${c.events} events, snaplen ${c.snaplen}`,
    `requests  ${r.requests}${protos ? ` (${protos})` : ''} on ${r.connections.total} connections` + window,
  ].join('\n') + '\n';
}

function protocols(r: AnalysisResult): string {
  const m = r.percentiles;
  const method = m.method === 'exact' ? 'percentiles: nearest rank, exact'
    : `percentiles: nearest rank, exact up to ${m.exactUpTo} requests a row, above from a histogram within ${(m.relativeError * 100).toFixed(2)} %`;
  return section('PROTOCOLS', `${renderTable([{ title: 'protocol' }, ...LATENCY_COLUMNS],
    r.protocols.map((p) => [p.protocol, ...latencyCells(p)]))}\n${method}`);
}

/** The line under a cut list, or nothing when the list is whole. */
function leftOut(omitted: number, what: string, top: number): string {
  return omitted === 0 ? '' : `\n... ${omitted} more ${what} (-n ${top + omitted} shows all)`;
}

function leftOutRows(kept: Kept<unknown>, top: number): string {
  return leftOut(kept.omitted, `rows with ${kept.omittedRequests} requests`, top);
}

function endpoints(r: AnalysisResult, top: number): string {
  const kept = busiest(r.endpoints, top);
  const rows = kept.rows.map((e) => [e.protocol, e.server, e.serverProcess || '-', e.operation, clip(e.resource, CELL_WIDTH) || '-',
    ...latencyCells(e), e.statuses.map((s) => `${s.status || 'none'}:${s.count}`).join(' ')]);
  return section('ENDPOINTS (server, operation, resource)', renderTable([
    { title: 'protocol' }, { title: 'server' }, { title: 'process' }, { title: 'operation' }, { title: 'resource' },
    ...LATENCY_COLUMNS, { title: 'statuses' },
  ], rows) + leftOutRows(kept, top));
}

function serviceMap(r: AnalysisResult, top: number): string {
  const kept = busiest(r.serviceMap, top);
  const rows = kept.rows.map((e) => [e.client, '→', e.server, e.serverProcess || '-', e.protocol, ...latencyCells(e),
    `${bytesText(e.reqBytes)}/${bytesText(e.respBytes)}`]);
  return section('SERVICE MAP (client → server)', renderTable([
    { title: 'client' }, { title: '' }, { title: 'server' }, { title: 'process' }, { title: 'protocol' },
    ...LATENCY_COLUMNS, { title: 'bytes out/in' },
  ], rows) + leftOutRows(kept, top));
}

function slowest(r: AnalysisResult, top: number): string {
  const rows = r.slowest.slice(0, top).map((s) => [`+${durationText(s.startNs)}`, durationText(s.latencyNs), s.protocol, s.operation,
    clip(s.resource, CELL_WIDTH) || '-', s.status || 'none', `${s.client} → ${s.server}`, clip(s.error, CELL_WIDTH)]);
  return section(`SLOWEST REQUESTS (top ${rows.length} of ${r.requests})`, renderTable([
    { title: 'start', align: R }, { title: 'latency', align: R }, { title: 'protocol' }, { title: 'operation' },
    { title: 'resource' }, { title: 'status' }, { title: 'client → server' }, { title: 'error' },
  ], rows));
}

const TCP_COUNTS_DIFFER = '(neither count holds the other: a socket opened before recording is only in the second, one closed without data only in the first)';

/**
 * Both counts are of sockets (a loopback connection between traced processes is two), and
 * neither contains the other; when they differ the report says why they may.
 */
function tcp(r: AnalysisResult, top: number): string {
  const t = r.tcp.totals;
  const summary = [
    `${t.established} sockets reached ESTABLISHED while recording; ${t.connections} had RTT samples, retransmits or resets`,
    ...(t.established !== t.connections ? [TCP_COUNTS_DIFFER] : []),
    `${t.retransmits} retransmits, ${t.resetsSent} resets sent (${t.resetsWithoutSocket} for no socket: refused connections), ${t.resetsReceived} received`,
  ].join('\n');
  const shown = r.tcp.connections.slice(0, top);
  const rows = shown.map((c) => [c.local, c.remote, String(c.retransmits), String(c.resetsSent),
    String(c.resetsReceived), c.rttSamples ? durationText(c.srttLastUs * 1000) : '-', c.rttSamples ? durationText(c.srttMaxUs * 1000) : '-']);
  const table = rows.length ? `\n${renderTable([
    { title: 'local' }, { title: 'remote' }, { title: 'retrans', align: R }, { title: 'rst-out', align: R },
    { title: 'rst-in', align: R }, { title: 'srtt', align: R }, { title: 'srtt-max', align: R },
  ], rows)}` : '';
  const more = leftOut(t.connections - shown.length, 'sockets', top);
  return section('TCP (per socket: a connection between two processes of this host is two)', summary + table + more);
}

function incomplete(r: AnalysisResult): string {
  const i = r.incomplete;
  const lines = [
    `lost events (ring buffer full)     ${i.lostEvents}`,
    `malformed records skipped          ${i.malformedRecords}`,
    `stream gaps (snaplen, losses)      ${i.streamGaps}`,
    `invalid frames (resynchronized)    ${i.invalidFrames}`,
    `requests without a response        ${i.requestsWithoutResponse}`,
    `responses without a request        ${i.responsesWithoutRequest}`,
    `connections of unknown protocol    ${i.unknownProtocolConnections} (${bytesText(i.unknownProtocolBytes)})`,
    ...i.incompleteRecords.map((x) => `requests with fields unknown       ${x.count} (${x.reason})`),
    ...i.problems.map((p) => `problem: ${p}`),
  ];
  return section('INCOMPLETE DATA', lines.join('\n'));
}

export function renderText(r: AnalysisResult, opts: TextOptions = {}): string {
  const top = opts.top ?? DEFAULT_TOP;
  const parts = [header(r)];
  if (r.requests > 0) parts.push(protocols(r), endpoints(r, top), serviceMap(r, top), slowest(r, top));
  else parts.push('No L7 requests recognised.\n');
  parts.push(tcp(r, top), incomplete(r));
  return parts.join('\n');
}
