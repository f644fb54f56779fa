/**
 * JSON output: the indented form every command's --json prints, and the report of `kcap analyze
 * --json`: the analysis result as is, under a format tag that changes only when a field is
 * renamed or removed (fields may be added). Field meanings are in formats/analyze-json.md. Keys
 * come out in the order the result builds them, which is fixed.
 */
import type { AnalysisResult } from '../analyze/analyze.js';

export const REPORT_FORMAT = 'kcap.analyze/1';

/** A value as indented JSON and a newline (`kcap info --json`, `kcap verify --json`). */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function renderJson(r: AnalysisResult): string {
  return jsonText({ format: REPORT_FORMAT, ...r });
}
