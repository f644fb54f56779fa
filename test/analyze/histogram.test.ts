/**
 * The latency histogram: exact nearest-rank percentiles up to its threshold, within its stated
 * relative error beyond, and the same state however the values were ordered, split and merged.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXACT_LIMIT, LatencyHistogram, RELATIVE_ERROR, percentile } from '../../src/analyze/histogram.js';

const PS = [0, 1, 25, 50, 90, 99, 99.9, 100];

function histogramOf(values: readonly number[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const v of values) h.add(v);
  return h;
}

function exactPercentiles(values: readonly number[]): number[] {
  const sorted = Float64Array.from(values).sort();
  return PS.map((p) => percentile(sorted, p));
}

/** What a histogram answers: everything the report reads from it. */
function answers(h: LatencyHistogram): unknown {
  return { count: h.count, exact: h.isExact, max: h.max, percentiles: h.percentiles(PS) };
}

/** Latencies in ns over many magnitudes, with the edges of powers of two. */
const latency = fc.oneof(
  fc.nat(300),
  fc.integer({ min: 0, max: 5_000_000 }),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.integer({ min: 7, max: 62 }).chain((e) => fc.constantFrom(2 ** e - 1, 2 ** e, 2 ** e + 1)),
);

/** `values` cut at `cuts` (positions taken modulo the length), parts ordered by `keys`. */
function split(values: readonly number[], cuts: readonly number[], keys: readonly number[]): number[][] {
  const at = [...new Set(cuts.map((c) => c % (values.length + 1)))].sort((a, b) => a - b);
  const parts = [0, ...at].map((from, i) => values.slice(from, i < at.length ? at[i] : values.length));
  return parts.map((part, i) => ({ part, key: keys.length ? keys[i % keys.length]! : 0, i }))
    .sort((a, b) => a.key - b.key || a.i - b.i).map((x) => x.part);
}

/** Folds left into the first, or merges neighbours pairwise like a tree of jobs. */
function mergeAll(parts: LatencyHistogram[], pairwise: boolean): LatencyHistogram {
  let level = parts;
  while (level.length > 1) {
    const next: LatencyHistogram[] = [];
    for (let i = 0; i < level.length; i += pairwise ? 2 : level.length) {
      const into = level[i]!;
      for (const h of level.slice(i + 1, pairwise ? i + 2 : level.length)) into.merge(h);
      next.push(into);
    }
    level = next;
  }
  return level[0]!;
}

describe('latency histogram', () => {
  it('gives exact nearest-rank percentiles up to its threshold', () => {
    fc.assert(fc.property(fc.array(latency, { maxLength: EXACT_LIMIT }), (values) => {
      const h = histogramOf(values);
      expect(h.isExact).toBe(true);
      expect(h.percentiles(PS)).toEqual(values.length ? exactPercentiles(values) : PS.map(() => 0));
      expect(h.max).toBe(values.length ? Math.max(...values) : 0);
    }), { numRuns: 200 });
  });

  it('switches to buckets at one value past the threshold', () => {
    const values = Array.from({ length: EXACT_LIMIT }, (_, i) => 1000 + 7 * i);
    const h = histogramOf(values);
    expect(h.isExact).toBe(true);
    h.add(5000);
    expect(h.isExact).toBe(false);
    expect(h.count).toBe(EXACT_LIMIT + 1);
  });

  it('stays within its relative error of the exact percentiles, with min and max exact', () => {
    fc.assert(fc.property(fc.array(latency, { minLength: EXACT_LIMIT + 1, maxLength: 4000 }), (values) => {
      const h = histogramOf(values);
      expect(h.isExact).toBe(false);
      const got = h.percentiles(PS);
      exactPercentiles(values).forEach((want, i) => {
        expect(Math.abs(got[i]! - want)).toBeLessThanOrEqual(RELATIVE_ERROR * want);
      });
      expect(got[0]).toBe(Math.min(...values));
      expect(got[PS.length - 1]).toBe(Math.max(...values));
      expect(h.max).toBe(Math.max(...values));
    }), { numRuns: 100 });
  });

  it('answers the same whatever the order of values and however they were split and merged', () => {
    fc.assert(fc.property(
      // Lengths far from and close to the threshold, where a merge must switch to buckets.
      fc.oneof(fc.array(latency, { maxLength: 3000 }), fc.array(latency, { minLength: EXACT_LIMIT - 4, maxLength: EXACT_LIMIT + 4 })),
      fc.array(fc.nat(), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 8 }),
      fc.boolean(),
      (values, cuts, keys, pairwise) => {
        const merged = mergeAll(split(values, cuts, keys).map(histogramOf), pairwise);
        const sorted = [...values].sort((a, b) => b - a);
        expect(answers(merged)).toEqual(answers(histogramOf(values)));
        expect(answers(merged)).toEqual(answers(histogramOf(sorted)));
      },
    ), { numRuns: 200 });
  });

  it('merges a counted histogram into an exact one and back', () => {
    const big = Array.from({ length: 3000 }, (_, i) => 10 + ((i * 7919) % 1_000_003));
    const small = [5, 999_999_999, 42];
    const a = histogramOf(small);
    a.merge(histogramOf(big));
    const b = histogramOf(big);
    b.merge(histogramOf(small));
    expect(answers(a)).toEqual(answers(b));
    expect(a.max).toBe(999_999_999);
    expect(a.percentiles([0])).toEqual([5]);
  });

  it('answers 0 when empty, also after merging empties', () => {
    const h = new LatencyHistogram();
    h.merge(new LatencyHistogram());
    expect(answers(h)).toEqual({ count: 0, exact: true, max: 0, percentiles: PS.map(() => 0) });
  });
});
