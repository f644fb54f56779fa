/**
 * JSON output: the indented form every command's --json prints, and the report of `kcap analyze
 * --json`: the analysis result as is, under a format tag that changes only when a field is
 * renamed or removed (fields may be added). Field meanings are in formats/analyze-json.md. Keys
 * come out in the order the result builds them, which is fixed. Lists are whole unless a row
 * limit is given (-n), since a program reading them wants every row; `omitted` says what a
 * limit left out.
 */
import type { AnalysisResult } from '../analyze/analyze.js';
import { busiest } from './top.js';

export const REPORT_FORMAT = 'kcap.analyze/1';

/** A value as indented JSON and a newline (`kcap info --json`, `kcap verify --json`). */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The report; with `top`, endpoints and the service map keep only their `top` busiest rows. */
export function renderJson(r: AnalysisResult, top?: number): string {
  const endpoints = busiest(r.endpoints, top ?? r.endpoints.length);
  const serviceMap = busiest(r.serviceMap, top ?? r.serviceMap.length);
  const omitted = {
    endpoints: endpoints.omitted, serviceMap: serviceMap.omitted, tcpConnections: r.tcp.totals.connections - r.tcp.connections.length,
  };
  return jsonText({ format: REPORT_FORMAT, ...r, endpoints: endpoints.rows, serviceMap: serviceMap.rows, omitted });
}
