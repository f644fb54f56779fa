/**
 * Rolling byte buffer for one direction of a connection that remembers when each byte arrived.
 * Bytes are appended at the tail and removed from the head; the head view is contiguous so a
 * framer can parse it in place. Arrival times are kept per appended chunk (not per byte), so
 * `tsAt(i)` answers "which syscall delivered byte i" by binary search over chunk starts.
 *
 * Most syscalls carry whole frames, so bytes appended to an empty buffer are borrowed, not
 * copied: the buffer reads the caller's array until `keep()` copies what is left of it (the
 * caller calls it before its bytes may change or go away). Only a frame cut across syscalls
 * costs a copy.
 */
export class StreamBuffer {
  private data = new Uint8Array(1024);
  private head = 0;
  private tail = 0;
  /** The caller's bytes while borrowed (then `data` is unused), else undefined. */
  private borrowed: Uint8Array | undefined;
  /** `view()` until the next append or consume. */
  private cachedView: Uint8Array | undefined;
  /** Absolute stream offset of the head byte. */
  private base = 0;
  /**
   * Absolute offsets where appended chunks begin, ascending, with their timestamps: the live
   * marks are [markHead, markTail). The arrays are reused, not emptied, so an append that follows
   * a full consume (the usual rhythm: one syscall, one frame) allocates nothing.
   */
  private readonly markPos: number[] = [];
  private readonly markTs: bigint[] = [];
  private markHead = 0;
  private markTail = 0;

  get length(): number {
    return this.tail - this.head;
  }

  append(bytes: Uint8Array, ts: bigint): void {
    if (bytes.length === 0) return;
    this.markPos[this.markTail] = this.base + this.length;
    this.markTs[this.markTail] = ts;
    this.markTail++;
    this.cachedView = undefined;
    if (this.length === 0) {
      this.borrowed = bytes;
      this.head = 0;
      this.tail = bytes.length;
      return;
    }
    this.keep();
    this.reserve(bytes.length);
    this.data.set(bytes, this.tail);
    this.tail += bytes.length;
  }

  /** Copies borrowed bytes still buffered into the buffer's own storage. */
  keep(): void {
    const b = this.borrowed;
    if (b === undefined) return;
    this.borrowed = undefined;
    this.cachedView = undefined;
    const live = this.tail - this.head;
    if (live > this.data.length) this.data = new Uint8Array(capacityFor(this.data.length, live));
    this.data.set(b.subarray(this.head, this.tail));
    this.head = 0;
    this.tail = live;
  }

  /** The buffered bytes; valid until the next append, consume or keep. */
  view(): Uint8Array {
    if (this.cachedView !== undefined) return this.cachedView;
    const src = this.borrowed ?? this.data;
    const v = this.head === 0 && this.tail === src.length ? src : src.subarray(this.head, this.tail);
    this.cachedView = v;
    return v;
  }

  /** Arrival time of buffered byte `i` (0 = head). */
  tsAt(i: number): bigint {
    const abs = this.base + i;
    const pos = this.markPos;
    let lo = this.markHead;
    let hi = this.markTail - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((pos[mid] as number) <= abs) lo = mid;
      else hi = mid - 1;
    }
    return this.markTs[lo] ?? 0n;
  }

  /** Drop `n` bytes (at most what is buffered) from the head. */
  consume(n: number): void {
    const k = Math.min(n, this.length);
    if (k === 0) return;
    this.head += k;
    this.base += k;
    this.cachedView = undefined;
    if (this.head === this.tail) {
      this.head = this.tail = 0;
      this.borrowed = undefined;
      this.markHead = this.markTail = 0;
      return;
    }
    const pos = this.markPos;
    while (this.markHead + 1 < this.markTail && (pos[this.markHead + 1] as number) <= this.base) this.markHead++;
    // Compact once the dropped marks are the larger part, so memory follows what is buffered.
    if (this.markHead > 32 && this.markHead * 2 > this.markTail) {
      pos.copyWithin(0, this.markHead, this.markTail);
      this.markTs.copyWithin(0, this.markHead, this.markTail);
      this.markTail -= this.markHead;
      this.markHead = 0;
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
      const next = new Uint8Array(capacityFor(this.data.length, live + extra));
      next.set(this.data.subarray(this.head, this.tail));
      this.data = next;
    }
    this.head = 0;
    this.tail = live;
  }
}

/** The smallest doubling of `cap` that holds `need` bytes. */
function capacityFor(cap: number, need: number): number {
  let c = cap * 2;
  while (c < need) c *= 2;
  return c;
}
