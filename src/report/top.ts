/**
 * Row limits of the analyze report (`-n/--top`): which rows a long list keeps and how many it
 * leaves out. A list keeps the rows with most requests, in the list's own order, so a capture
 * dominated by one protocol still shows the busiest rows of the others.
 */

export { DEFAULT_TOP } from '../analyze/result.js';

export interface Kept<T> {
  readonly rows: readonly T[];
  /** Rows left out and the requests they held. */
  readonly omitted: number;
  readonly omittedRequests: number;
}

/** The `n` rows with the largest count (ties: earlier in the list), in list order. */
export function busiest<T extends { readonly count: number }>(rows: readonly T[], n: number): Kept<T> {
  if (rows.length <= n) return { rows, omitted: 0, omittedRequests: 0 };
  const order = rows.map((_, i) => i).sort((a, b) => rows[b]!.count - rows[a]!.count || a - b);
  const kept = new Set(order.slice(0, Math.max(0, n)));
  const out = rows.filter((_, i) => kept.has(i));
  const omittedRequests = rows.reduce((sum, r, i) => (kept.has(i) ? sum : sum + r.count), 0);
  return { rows: out, omitted: rows.length - out.length, omittedRequests };
}
