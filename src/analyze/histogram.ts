/**
 * A latency histogram that stays small however many requests it counts and merges exactly.
 *
 * Up to EXACT_LIMIT values it keeps every value, so percentiles are exact nearest-rank values.
 * Beyond, it counts values in fixed log-linear buckets (the HDR layout): each integer below
 * SUB_BUCKETS is a bucket of its own, and every power of two above is cut in SUB_BUCKETS equal
 * parts, so a bucket is at most 1/SUB_BUCKETS of its lower edge wide and the middle of the bucket
 * is within RELATIVE_ERROR of any value in it. The layout is the same for every histogram, so two
 * merge by adding counts; whether values are kept or counted depends only on how many there are.
 * The state, and so every percentile, is a function of the multiset of values alone: neither the
 * order they arrived in nor how they were split across histograms before merging changes it.
 */

const SUB_BITS = 7;
const SUB_BUCKETS = 1 << SUB_BITS;
const TWO_32 = 2 ** 32;

/** Values a histogram keeps exactly; one more and it counts in buckets. */
export const EXACT_LIMIT = 1024;

/** Bound on |reported − exact| / exact for a percentile read from the buckets. */
export const RELATIVE_ERROR = 1 / (2 * SUB_BUCKETS);

/** How the percentiles of a report were computed. */
export interface PercentileMethod {
  /** `exact` when every row had at most `exactUpTo` requests, else `histogram` for the rows above. */
  readonly method: 'exact' | 'histogram';
  readonly exactUpTo: number;
  /** Bound on the relative error of a percentile; 0 when exact. */
  readonly relativeError: number;
}

/** Nearest-rank percentile of ascending-sorted values; 0 when there are none. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[rankOf(p, sorted.length) - 1]!;
}

/** The 1-based nearest rank of percentile p among n values. */
function rankOf(p: number, n: number): number {
  return Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
}

/** floor(log2(v)) for v >= 1, in integer steps so every engine agrees at powers of two. */
function log2Floor(v: number): number {
  let e = 0;
  for (; v >= TWO_32; v = Math.floor(v / TWO_32)) e += 32;
  return e + 31 - Math.clz32(v);
}

/** Bucket of a latency in ns (negative ones count as 0). */
function bucketOf(v: number): number {
  if (v < SUB_BUCKETS) return v > 0 ? Math.floor(v) : 0;
  if (v < TWO_32) {
    // The usual case (under 4.3 s), in 32-bit integer steps: the same bucket as below.
    const sh = 31 - Math.clz32(v) - SUB_BITS;
    return SUB_BUCKETS * (sh + 1) + (v >>> sh) - SUB_BUCKETS;
  }
  const shift = log2Floor(v) - SUB_BITS;
  return SUB_BUCKETS * (shift + 1) + Math.floor(v / 2 ** shift) - SUB_BUCKETS;
}

/** The middle of a bucket's integer values. */
function middleOf(bucket: number): number {
  if (bucket < SUB_BUCKETS) return bucket;
  const shift = Math.floor(bucket / SUB_BUCKETS) - 1;
  const width = 2 ** shift;
  return (SUB_BUCKETS + (bucket % SUB_BUCKETS)) * width + (width - 1) / 2;
}

/** A histogram as plain data, to cross between threads (structured clone keeps typed arrays). */
export interface HistogramState {
  readonly exact: Float64Array | null;
  readonly counts: Float64Array;
  readonly first: number;
  readonly lo: number;
  readonly hi: number;
  readonly count: number;
}

export class LatencyHistogram {
  /** Every value while there are at most EXACT_LIMIT; null once they are counted in buckets. */
  private exact: Float64Array | null = new Float64Array(16);
  /** Count per bucket, for buckets `first` to `first + counts.length - 1`. */
  private counts = new Float64Array(0);
  private first = 0;
  private lo = Infinity;
  private hi = -Infinity;
  count = 0;

  add(v: number): void {
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
    if (this.exact !== null && this.count < EXACT_LIMIT) this.keep(v);
    else {
      this.spill();
      this.bump(bucketOf(v), 1);
    }
    this.count++;
  }

  toState(): HistogramState {
    const { counts, first, lo, hi, count } = this;
    return { exact: this.exact && this.exact.slice(0, count), counts, first, lo, hi, count };
  }

  static fromState(s: HistogramState): LatencyHistogram {
    const h = new LatencyHistogram();
    if (s.exact === null) {
      h.exact = null;
    } else {
      // Room to keep adding: keep() grows the array by doubling its length.
      h.exact = new Float64Array(Math.max(16, s.exact.length));
      h.exact.set(s.exact);
    }
    h.counts = new Float64Array(s.counts);
    h.first = s.first;
    h.lo = s.lo;
    h.hi = s.hi;
    h.count = s.count;
    return h;
  }

  /** Adds another histogram's values, as if each had been added here. */
  merge(other: LatencyHistogram): void {
    if (other.count === 0) return;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
    if (other.exact !== null && (this.exact === null || this.count + other.count > EXACT_LIMIT)) {
      this.spill();
      for (let i = 0; i < other.count; i++) this.bump(bucketOf(other.exact[i]!), 1);
    } else if (other.exact !== null) {
      for (let i = 0; i < other.count; i++) this.keep(other.exact[i]!, this.count + i);
    } else {
      this.spill();
      other.counts.forEach((n, i) => { if (n > 0) this.bump(other.first + i, n); });
    }
    this.count += other.count;
  }

  /** Whether the percentiles are exact (at most EXACT_LIMIT values). */
  get isExact(): boolean {
    return this.exact !== null;
  }

  /** The largest value, exact in both modes; 0 when empty. */
  get max(): number {
    return this.count === 0 ? 0 : this.hi;
  }

  /** Nearest-rank percentiles, one per entry of `ps` (0-100); exact or within RELATIVE_ERROR. */
  percentiles(ps: readonly number[]): number[] {
    if (this.exact !== null) {
      const sorted = this.exact.slice(0, this.count).sort();
      return ps.map((p) => percentile(sorted, p));
    }
    return ps.map((p) => this.fromBuckets(rankOf(p, this.count)));
  }

  /** The value of a rank: the first and last are known exactly, the rest by their bucket's middle. */
  private fromBuckets(rank: number): number {
    if (rank === 1) return this.lo;
    if (rank === this.count) return this.hi;
    let seen = 0;
    let i = 0;
    while (seen + this.counts[i]! < rank) seen += this.counts[i++]!;
    return Math.min(this.hi, Math.max(this.lo, middleOf(this.first + i)));
  }

  private keep(v: number, at = this.count): void {
    let exact = this.exact!;
    if (at === exact.length) {
      const grown = new Float64Array(exact.length * 2);
      grown.set(exact);
      this.exact = exact = grown;
    }
    exact[at] = v;
  }

  /** Moves the kept values into buckets (once there are too many to keep). */
  private spill(): void {
    const exact = this.exact;
    if (exact === null) return;
    this.exact = null;
    for (let i = 0; i < this.count; i++) this.bump(bucketOf(exact[i]!), 1);
  }

  private bump(bucket: number, n: number): void {
    let at = bucket - this.first;
    if (at < 0 || at >= this.counts.length) at = this.cover(bucket);
    this.counts[at]! += n;
  }

  /** Grows the counted range to take `bucket` (by at least a power of two's worth, so a slowly
   * widening range does not reallocate on every value); returns the bucket's index in it. */
  private cover(bucket: number): number {
    const len = this.counts.length;
    const first = len === 0 ? bucket : bucket < this.first ? Math.max(0, Math.min(bucket, this.first - SUB_BUCKETS)) : this.first;
    const end = len === 0 ? bucket + 1 : bucket >= this.first + len ? Math.max(bucket + 1, this.first + len + SUB_BUCKETS) : this.first + len;
    const grown = new Float64Array(end - first);
    grown.set(this.counts, len === 0 ? 0 : this.first - first);
    this.counts = grown;
    this.first = first;
    return bucket - first;
  }
}
