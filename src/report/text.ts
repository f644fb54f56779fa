/**
 * The terminal report of `kcap analyze`: sections with aligned tables, in the order a person
 * debugging asks — what was captured, which protocols, per endpoint and operation, who talks to
 * whom, the slowest requests, TCP health, and last what the numbers may be missing.
 */
import type { AnalysisResult } from '../analyze/analyze.js';
import type { LatencySummary } from '../analyze/aggregate.js';
import { renderTable, type Column } from './table.js';
import { bytesText, durationText } from './units.js';

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

function endpoints(r: AnalysisResult): string {
  const rows = r.endpoints.map((e) => [e.protocol, e.server, e.serverProcess || '-', e.operation, e.resource || '-',
    ...latencyCells(e), e.statuses.map((s) => `${s.status || 'none'}:${s.count}`).join(' ')]);
  return section('ENDPOINTS (server, operation, resource)', renderTable([
    { title: 'protocol' }, { title: 'server' }, { title: 'process' }, { title: 'operation' }, { title: 'resource' },
    ...LATENCY_COLUMNS, { title: 'statuses' },
  ], rows));
}

function serviceMap(r: AnalysisResult): string {
  const rows = r.serviceMap.map((e) => [e.client, '→', e.server, e.serverProcess || '-', e.protocol, ...latencyCells(e),
    `${bytesText(e.reqBytes)}/${bytesText(e.respBytes)}`]);
  return section('SERVICE MAP (client → server)', renderTable([
    { title: 'client' }, { title: '' }, { title: 'server' }, { title: 'process' }, { title: 'protocol' },
    ...LATENCY_COLUMNS, { title: 'bytes out/in' },
  ], rows));
}

function slowest(r: AnalysisResult): string {
  const rows = r.slowest.map((s) => [`+${durationText(s.startNs)}`, durationText(s.latencyNs), s.protocol, s.operation,
    s.resource || '-', s.status || 'none', `${s.client} → ${s.server}`, s.error]);
  return section(`SLOWEST REQUESTS (top ${r.slowest.length})`, renderTable([
    { title: 'start', align: R }, { title: 'latency', align: R }, { title: 'protocol' }, { title: 'operation' },
    { title: 'resource' }, { title: 'status' }, { title: 'client → server' }, { title: 'error' },
  ], rows));
}

function tcp(r: AnalysisResult): string {
  const t = r.tcp.totals;
  const summary = `${t.connections} connections seen by tcp tracepoints, ${t.established} established while recording, `
    + `${t.retransmits} retransmits, ${t.resetsSent} resets sent (${t.resetsWithoutSocket} for no socket: refused connections), ${t.resetsReceived} received`;
  const rows = r.tcp.connections.map((c) => [c.local, c.remote, String(c.retransmits), String(c.resetsSent),
    String(c.resetsReceived), c.rttSamples ? durationText(c.srttLastUs * 1000) : '-', c.rttSamples ? durationText(c.srttMaxUs * 1000) : '-']);
  const table = rows.length ? `\n${renderTable([
    { title: 'local' }, { title: 'remote' }, { title: 'retrans', align: R }, { title: 'rst-out', align: R },
    { title: 'rst-in', align: R }, { title: 'srtt', align: R }, { title: 'srtt-max', align: R },
  ], rows)}` : '';
  return section('TCP', summary + table);
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
    ...i.problems.map((p) => `problem: ${p}`),
  ];
  return section('INCOMPLETE DATA', lines.join('\n'));
}

export function renderText(r: AnalysisResult): string {
  const parts = [header(r)];
  if (r.requests > 0) parts.push(protocols(r), endpoints(r), serviceMap(r), slowest(r));
  else parts.push('No L7 requests recognised.\n');
  parts.push(tcp(r), incomplete(r));
  return parts.join('\n');
}
