/**
 * Rolling byte buffer for one direction of a connection that remembers when each byte arrived.
 * Bytes are appended at the tail and removed from the head; the head view is contiguous so a
 * framer can parse it in place. Arrival times are kept per appended chunk (not per byte), so
 * `tsAt(i)` answers "which syscall delivered byte i" by binary search over chunk starts.
 */
export class StreamBuffer {
  private data = new Uint8Array(1024);
  private head = 0;
  private tail = 0;
  /** Absolute stream offset of `data[head]`. */
  private base = 0;
  /** Absolute offsets where appended chunks begin, ascending, with their timestamps. */
  private markPos: number[] = [];
  private markTs: bigint[] = [];

  get length(): number {
    return this.tail - this.head;
  }

  append(bytes: Uint8Array, ts: bigint): void {
    if (bytes.length === 0) return;
    this.reserve(bytes.length);
    this.data.set(bytes, this.tail);
    this.markPos.push(this.base + this.length);
    this.markTs.push(ts);
    this.tail += bytes.length;
  }

  /** The buffered bytes; valid until the next append or consume. */
  view(): Uint8Array {
    return this.data.subarray(this.head, this.tail);
  }

  /** Arrival time of buffered byte `i` (0 = head). */
  tsAt(i: number): bigint {
    const abs = this.base + i;
    let lo = 0;
    let hi = this.markPos.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.markPos[mid] as number) <= abs) lo = mid;
      else hi = mid - 1;
    }
    return this.markTs[lo] ?? 0n;
  }

  /** Drop `n` bytes (at most what is buffered) from the head. */
  consume(n: number): void {
    const k = Math.min(n, this.length);
    this.head += k;
    this.base += k;
    if (this.head === this.tail) {
      this.head = this.tail = 0;
      this.markPos.length = 0;
      this.markTs.length = 0;
      return;
    }
    let drop = 0;
    while (drop + 1 < this.markPos.length && (this.markPos[drop + 1] as number) <= this.base) drop++;
    if (drop > 0) {
      this.markPos.splice(0, drop);
      this.markTs.splice(0, drop);
    }
  }

  clear(): void {
    this.consume(this.length);
  }

  private reserve(extra: number): void {
    if (this.tail + extra <= this.data.length) return;
    const live = this.length;
    if (live + extra <= this.data.length / 2) {
      this.data.copyWithin(0, this.head, this.tail);
    } else {
      let cap = this.data.length * 2;
      while (cap < live + extra) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.data.subarray(this.head, this.tail));
      this.data = next;
    }
    this.head = 0;
    this.tail = live;
  }
}
