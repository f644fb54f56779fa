/**
 * DNS pairing by transaction id and question (RFC 1035 §7.3): responses may come in any order,
 * over UDP some never come. Pending queries are kept in arrival order so that flushing them is
 * deterministic.
 */
import { DEFAULT_MAX_PENDING, makeRecord } from '../pairing.js';
import type { Exchange } from '../pairing.js';
import type { Message, PairSink, Pairer, Reply } from '../types.js';
import { opcodeName, qtypeName, rcodeName } from './types.js';
import type { DnsMessage } from './types.js';

function key(m: DnsMessage): string {
  return `${m.id}/${m.qname}/${m.qtype}`;
}

export function describeDns(req: DnsMessage, resp: DnsMessage | undefined): Exchange {
  const qtype = qtypeName(req.qtype);
  const fields: Record<string, string | number | boolean> = { 'dns.id': req.id, 'dns.qname': req.qname, 'dns.qtype': qtype };
  if (resp !== undefined) {
    fields['dns.rcode'] = rcodeName(resp.rcode);
    fields['dns.answers'] = resp.answers;
    fields['dns.truncated'] = resp.truncated;
  }
  return {
    operation: `${opcodeName(req.opcode)} ${qtype}`,
    resource: req.qname,
    status: resp === undefined ? '' : rcodeName(resp.rcode),
    error: resp === undefined || resp.rcode === 0 ? '' : rcodeName(resp.rcode),
    fields,
  };
}

export class DnsPairer implements Pairer<DnsMessage, DnsMessage> {
  /** Waiting queries by key, insertion-ordered (a Map keeps insertion order). */
  private readonly waiting = new Map<string, Message<DnsMessage>[]>();
  private count = 0;

  constructor(private readonly maxPending = DEFAULT_MAX_PENDING) {}

  request(m: Message<DnsMessage>, sink: PairSink): void {
    if (this.count >= this.maxPending) this.flushOldest(sink);
    const k = key(m.frame);
    const list = this.waiting.get(k);
    if (list === undefined) this.waiting.set(k, [m]);
    else list.push(m);
    this.count++;
  }

  response(m: Message<DnsMessage>, sink: PairSink): void {
    const req = this.take(key(m.frame), m.startTs);
    if (req === undefined) {
      sink.unmatched();
      return;
    }
    sink.record(this.build(req, m, 'paired'));
  }

  /** Ids pair regardless of lost bytes elsewhere. */
  gap(): void {}

  end(sink: PairSink): void {
    while (this.count > 0) this.flushOldest(sink);
  }

  private take(k: string, notAfter: bigint): Message<DnsMessage> | undefined {
    const list = this.waiting.get(k);
    const req = list?.[0];
    if (list === undefined || req === undefined || req.startTs > notAfter) return undefined;
    list.shift();
    if (list.length === 0) this.waiting.delete(k);
    this.count--;
    return req;
  }

  private flushOldest(sink: PairSink): void {
    let oldest: Message<DnsMessage> | undefined;
    for (const list of this.waiting.values()) {
      const first = list[0];
      if (first !== undefined && (oldest === undefined || first.startTs < oldest.startTs)) oldest = first;
    }
    if (oldest === undefined) return;
    const req = this.take(key(oldest.frame), oldest.startTs) as Message<DnsMessage>;
    sink.record(this.build(req, undefined, 'missing'));
  }

  private build(req: Message<DnsMessage>, resp: Message<DnsMessage> | undefined, reply: Reply) {
    return makeRecord('dns', req, resp, describeDns(req.frame, resp?.frame), reply);
  }
}
