/**
 * The shared engine behind every protocol's ConnectionParser: per-direction buffering, arrival
 * times, byte counts from syscall sizes, body skipping, known gaps and resynchronization. A
 * protocol supplies framers and a pairer (types.ts); this file turns them into records.
 *
 * Skipping: a framer may report that a frame spans more bytes than it was shown (a body). Those
 * bytes are not buffered; they are counted off as they arrive, or as a gap when they were beyond
 * the snaplen, and the frame is delivered when its last byte has passed, stamped with that time.
 * A gap that is not such a skip is a real hole: the direction drops what it had half-parsed and
 * resyncs at the next place the framer says a frame may begin.
 */
import { StreamBuffer } from './stream-buffer.js';
import type {
  ConnectionParser, Direction, Framer, L7Record, Message, PairSink, ParserOptions, ParserStats,
  ProtocolConnection, Step,
} from './types.js';

const DEFAULT_MAX_BUFFER = 1 << 20;
/** What a call that completed no record returns (most calls): shared, so nothing is allocated. */
const NO_RECORDS: readonly L7Record[] = Object.freeze([]);

/**
 * Collects the records a call completes; `take` hands them over. The list is reused by the next
 * call (ConnectionParser says so), and never emptied to length 0, which would drop its storage:
 * a call that completes records then allocates nothing.
 */
class RecordQueue {
  private readonly list: L7Record[] = [];
  private n = 0;
  readonly push = (r: L7Record): void => { this.list[this.n++] = r; };

  take(): readonly L7Record[] {
    const n = this.n;
    if (n === 0) return NO_RECORDS;
    this.n = 0;
    if (this.list.length !== n) this.list.length = n;
    return this.list;
  }
}

/** State of one direction of one connection. */
class Side<F> {
  readonly buf = new StreamBuffer();
  /** Bytes still to pass before the current step's `consumed` is used up. */
  skip = 0;
  /** A frame waiting for its skipped tail. */
  pending: F | undefined;
  /** First byte time and byte count of the frame being assembled from partial steps. */
  msgStart: bigint | undefined;
  msgBytes = 0;
  lastTs = 0n;
  resyncing = false;
  constructor(readonly dir: Direction, readonly framer: Framer<F>) {}

  forgetMessage(): void {
    this.pending = undefined;
    this.msgStart = undefined;
    this.msgBytes = 0;
  }
}

function newStats(): ParserStats {
  return {
    framesReq: 0, framesResp: 0, invalid: 0, gaps: 0, gapBytes: 0, discardedBytes: 0,
    unmatchedResponses: 0,
  };
}

/** Runs a protocol over a byte stream (TCP) with the engine described above. */
class StreamParser<Req, Resp> implements ConnectionParser {
  readonly stats = newStats();
  private readonly req: Side<Req>;
  private readonly resp: Side<Resp>;
  private readonly maxBuffer: number;
  private readonly out = new RecordQueue();
  private readonly sink: PairSink;

  constructor(readonly protocol: string, private readonly conn: ProtocolConnection<Req, Resp>,
    options: ParserOptions) {
    this.req = new Side('req', conn.req);
    this.resp = new Side('resp', conn.resp);
    this.maxBuffer = options.maxBuffer ?? DEFAULT_MAX_BUFFER;
    this.sink = {
      record: this.out.push,
      unmatched: () => { this.stats.unmatchedResponses++; },
    };
  }

  data(dir: Direction, bytes: Uint8Array, ts: bigint, size = bytes.length): readonly L7Record[] {
    const side = this.side(dir);
    this.feed(side, bytes, ts);
    if (size > bytes.length) this.lose(side, size - bytes.length, ts);
    // The buffer may still borrow `bytes`, which are the caller's only for this call.
    side.buf.keep();
    return this.out.take();
  }

  gap(dir: Direction, size: number, ts: bigint): readonly L7Record[] {
    if (size > 0) this.lose(this.side(dir), size, ts);
    return this.out.take();
  }

  end(): readonly L7Record[] {
    this.finishSide(this.req);
    this.finishSide(this.resp);
    this.conn.pairer.end(this.sink);
    return this.out.take();
  }

  /** The two sides differ only in frame type, which the engine never looks inside. */
  private side(dir: Direction): Side<unknown> {
    return (dir === 'req' ? this.req : this.resp) as Side<unknown>;
  }

  private feed<F>(side: Side<F>, bytes: Uint8Array, ts: bigint): void {
    side.lastTs = ts;
    let off = 0;
    if (side.skip > 0) {
      off = Math.min(side.skip, bytes.length);
      this.skipped(side, off, ts);
    }
    if (off < bytes.length) {
      side.buf.append(off === 0 ? bytes : bytes.subarray(off), ts);
      this.pump(side);
    }
  }

  /** `n` bytes of a skip have passed at `ts`. */
  private skipped<F>(side: Side<F>, n: number, ts: bigint): void {
    side.skip -= n;
    if (side.skip === 0 && side.pending !== undefined) {
      const frame = side.pending;
      side.pending = undefined;
      this.deliver(side, frame, ts);
    }
  }

  /** `n` bytes at `ts` in `side` were not captured. */
  private lose<F>(side: Side<F>, n: number, ts: bigint): void {
    side.lastTs = ts;
    if (side.skip > 0) {
      const k = Math.min(side.skip, n);
      this.skipped(side, k, ts);
      n -= k;
    }
    if (n === 0) return;
    this.stats.gaps++;
    this.stats.gapBytes += n;
    const salvage = side.msgStart !== undefined ? side.framer.hole?.() : this.cut(side);
    if (salvage === 'continue') {
      side.msgBytes += n;
      return;
    }
    this.stats.discardedBytes += side.buf.length;
    side.buf.clear();
    side.framer.reset();
    side.resyncing = true;
    if (salvage !== undefined) {
      side.msgBytes += n;
      this.deliver(side, salvage, ts);
      return;
    }
    side.forgetMessage();
    this.conn.pairer.gap(side.dir, ts, this.sink);
  }

  /** A frame from the incomplete bytes buffered before a hole; they become its first bytes. */
  private cut<F>(side: Side<F>): F | undefined {
    if (side.buf.length === 0 || side.resyncing) return undefined;
    const frame = side.framer.cut?.(side.buf.view());
    if (frame === undefined) return undefined;
    side.msgStart = side.buf.tsAt(0);
    side.msgBytes = side.buf.length;
    side.buf.clear();
    return frame;
  }

  private pump<F>(side: Side<F>): void {
    const buf = side.buf;
    while (buf.length > 0 && side.skip === 0) {
      const view = buf.view();
      if (side.resyncing) {
        const start = Math.max(0, Math.min(view.length, side.framer.resync(view)));
        this.discard(side, start);
        if (start === view.length) return;
        side.resyncing = false;
        continue;
      }
      const step = this.parse(side, view);
      if (step.kind === 'need') {
        if (view.length <= this.maxBuffer) return;
        // A frame this large cannot be assembled within the limit: give up on all of it, rather
        // than re-parsing the same megabyte one dropped byte at a time.
        this.stats.invalid++;
        this.discard(side, view.length);
        side.framer.reset();
        side.forgetMessage();
        side.resyncing = true;
        return;
      }
      if (step.kind === 'invalid') {
        this.reject(side, step.skip);
        continue;
      }
      this.advance(side, step, view.length);
    }
  }

  private parse<F>(side: Side<F>, view: Uint8Array): Step<F> {
    try {
      return side.framer.parse(view);
    } catch (e) {
      // A framer bug must not take the analysis down; treat it as malformed input.
      return { kind: 'invalid', reason: e instanceof Error ? e.message : String(e) };
    }
  }

  /** Malformed bytes at the head: drop them and look for the next frame start. */
  private reject<F>(side: Side<F>, skip = 1): void {
    this.stats.invalid++;
    this.discard(side, Math.max(1, skip));
    side.framer.reset();
    side.forgetMessage();
    side.resyncing = true;
  }

  private discard<F>(side: Side<F>, n: number): void {
    this.stats.discardedBytes += n;
    side.buf.consume(n);
  }

  private advance<F>(side: Side<F>, step: Exclude<Step<F>, { kind: 'need' | 'invalid' }>,
    available: number): void {
    const consumed = Math.max(1, step.consumed);
    const shown = Math.min(consumed, available);
    if (step.kind !== 'ignore') {
      side.msgStart ??= side.buf.tsAt(0);
      side.msgBytes += consumed;
    }
    const lastTs = side.buf.tsAt(shown - 1);
    side.buf.consume(shown);
    side.skip = consumed - shown;
    if (step.kind !== 'frame') return;
    if (side.skip > 0) side.pending = step.frame;
    else this.deliver(side, step.frame, lastTs);
  }

  private deliver<F>(side: Side<F>, frame: F, endTs: bigint): void {
    const m: Message<F> = { frame, startTs: side.msgStart ?? endTs, endTs, bytes: side.msgBytes };
    side.msgStart = undefined;
    side.msgBytes = 0;
    this.route(side.dir, m);
  }

  private route(dir: Direction, m: Message<unknown>): void {
    if (dir === 'req') {
      this.stats.framesReq++;
      this.conn.pairer.request(m as Message<Req>, this.sink);
    } else {
      this.stats.framesResp++;
      this.conn.pairer.response(m as Message<Resp>, this.sink);
    }
  }

  /** Stream over: a frame still waiting for skipped bytes or delimited by the close ends here. */
  private finishSide<F>(side: Side<F>): void {
    const frame = side.pending ?? side.framer.finish?.();
    side.pending = undefined;
    side.skip = 0;
    if (frame !== undefined) this.deliver(side, frame, side.lastTs);
    side.buf.clear();
  }
}

/** Runs a protocol over datagrams: each `data` call is one whole message (DNS over UDP). */
class DatagramParser<Req, Resp> implements ConnectionParser {
  readonly stats = newStats();
  private readonly out = new RecordQueue();
  private readonly sink: PairSink = {
    record: this.out.push,
    unmatched: () => { this.stats.unmatchedResponses++; },
  };

  constructor(readonly protocol: string, private readonly conn: ProtocolConnection<Req, Resp>) {}

  data(dir: Direction, bytes: Uint8Array, ts: bigint, size = bytes.length): readonly L7Record[] {
    if (bytes.length > 0) {
      if (dir === 'req') this.one(this.conn.req, bytes, ts, size, (m) => {
        this.stats.framesReq++;
        this.conn.pairer.request(m, this.sink);
      });
      else this.one(this.conn.resp, bytes, ts, size, (m) => {
        this.stats.framesResp++;
        this.conn.pairer.response(m, this.sink);
      });
    }
    return this.out.take();
  }

  gap(dir: Direction, size: number, ts: bigint): readonly L7Record[] {
    if (size > 0) {
      this.stats.gaps++;
      this.stats.gapBytes += size;
      this.conn.pairer.gap(dir, ts, this.sink);
    }
    return this.out.take();
  }

  end(): readonly L7Record[] {
    this.conn.pairer.end(this.sink);
    return this.out.take();
  }

  private one<F>(framer: Framer<F>, bytes: Uint8Array, ts: bigint, size: number,
    deliver: (m: Message<F>) => void): void {
    framer.reset();
    let step: Step<F>;
    try {
      step = framer.parse(bytes);
    } catch {
      step = { kind: 'invalid', reason: 'parser failure' };
    }
    if (step.kind === 'frame') {
      deliver({ frame: step.frame, startTs: ts, endTs: ts, bytes: size });
    } else if (step.kind !== 'ignore') {
      this.stats.invalid++;
      this.stats.discardedBytes += bytes.length;
    }
  }

}

/** A ConnectionParser for `protocol` over the transport named in `options`. */
export function openParser<Req, Resp>(protocol: string, conn: ProtocolConnection<Req, Resp>,
  options: ParserOptions = {}): ConnectionParser {
  return options.transport === 'datagram'
    ? new DatagramParser(protocol, conn)
    : new StreamParser(protocol, conn, options);
}
