/**
 * Pairing helpers shared by the protocols: building a record from a request and its response,
 * and the FIFO pairer used where responses come back in request order (HTTP/1 with pipelining,
 * Redis, memcached, PostgreSQL, MySQL).
 *
 * FIFO rules: a response pairs with the oldest waiting request that started no later than the
 * response did (a response cannot precede its request; one that does answers a request we never
 * saw and is counted unmatched). Lost response bytes make every request waiting at that moment
 * unpairable, so they are reported missing rather than paired with the wrong response.
 */
import type { Direction, FieldValue, L7Record, Message, PairSink, Pairer, Reply } from './types.js';

/** What a protocol says about one exchange; the rest of the record comes from the messages. */
export interface Exchange {
  readonly operation: string;
  readonly resource: string;
  readonly status: string;
  readonly error: string;
  readonly fields: Readonly<Record<string, FieldValue>>;
}

/** What a record needs of a message: its times and bytes (a stream's frames summed, for HTTP/2). */
export type Span = Omit<Message<unknown>, 'frame'>;

export function makeRecord(protocol: string, req: Span, resp: Span | undefined,
  x: Exchange, reply: Reply): L7Record {
  const endTs = resp?.endTs ?? req.endTs;
  return {
    protocol,
    operation: x.operation,
    resource: x.resource,
    status: x.status,
    error: x.error,
    startTs: req.startTs,
    endTs,
    latencyNs: endTs - req.startTs,
    reqBytes: req.bytes,
    respBytes: resp?.bytes ?? 0,
    reply,
    fields: x.fields,
  };
}

/** How one protocol describes its exchanges to the FIFO pairer. */
export interface FifoRules<Req, Resp> {
  readonly protocol: string;
  /** The exchange, from the request alone when `resp` is undefined. */
  describe(req: Req, resp: Resp | undefined): Exchange;
  /** Requests the server never answers (reported at once with reply `none-expected`). */
  expectsResponse?(req: Req): boolean;
  /** Responses that answer no request (push messages, notices). */
  isUnsolicited?(resp: Resp): boolean;
}

export const DEFAULT_MAX_PENDING = 4096;

export class FifoPairer<Req, Resp> implements Pairer<Req, Resp> {
  private queue: Message<Req>[] = [];
  private head = 0;

  constructor(private readonly rules: FifoRules<Req, Resp>,
    private readonly maxPending = DEFAULT_MAX_PENDING) {}

  /** Requests waiting for a response, oldest first. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  request(m: Message<Req>, sink: PairSink): void {
    if (this.rules.expectsResponse?.(m.frame) === false) {
      sink.record(this.build(m, undefined, 'none-expected'));
      return;
    }
    if (this.waiting >= this.maxPending) this.flushOne(sink);
    this.queue.push(m);
  }

  response(m: Message<Resp>, sink: PairSink): void {
    if (this.rules.isUnsolicited?.(m.frame)) return;
    const req = this.queue[this.head];
    if (req === undefined || req.startTs > m.startTs) {
      sink.unmatched();
      return;
    }
    this.shift();
    sink.record(this.build(req, m, 'paired'));
  }

  /** The oldest waiting request, for protocols that need to look before pairing. */
  peek(): Message<Req> | undefined {
    return this.queue[this.head];
  }

  gap(dir: Direction, ts: bigint, sink: PairSink): void {
    if (dir !== 'resp') return;
    while (this.waiting > 0 && (this.queue[this.head] as Message<Req>).startTs <= ts) this.flushOne(sink);
  }

  end(sink: PairSink): void {
    while (this.waiting > 0) this.flushOne(sink);
  }

  private flushOne(sink: PairSink): void {
    sink.record(this.build(this.shift(), undefined, 'missing'));
  }

  private shift(): Message<Req> {
    const m = this.queue[this.head++] as Message<Req>;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return m;
  }

  private build(req: Message<Req>, resp: Message<Resp> | undefined, reply: Reply): L7Record {
    return makeRecord(this.rules.protocol, req, resp, this.rules.describe(req.frame, resp?.frame), reply);
  }
}
