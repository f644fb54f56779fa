/**
 * Redis pairing: replies come in command order (FIFO, pipelines included). Two exceptions:
 * push messages (RESP3 `>`, RESP2 pub/sub `message` arrays) answer nothing, and SUBSCRIBE-like
 * commands get one confirmation per channel, of which the first pairs and the rest are absorbed.
 */
import { FifoPairer } from '../pairing.js';
import type { Exchange } from '../pairing.js';
import type { Direction, Message, PairSink, Pairer } from '../types.js';
import { REPLY_TYPES } from './types.js';
import type { RespFrame } from './types.js';

/** Commands whose first argument is not a key. */
const KEYLESS = new Set([
  'PING', 'ECHO', 'INFO', 'SELECT', 'AUTH', 'HELLO', 'CLIENT', 'CONFIG', 'COMMAND', 'DBSIZE', 'FLUSHALL',
  'FLUSHDB', 'MULTI', 'EXEC', 'DISCARD', 'QUIT', 'SCAN', 'SCRIPT', 'EVAL', 'EVALSHA', 'FCALL', 'TIME',
  'LASTSAVE', 'SAVE', 'BGSAVE', 'BGREWRITEAOF', 'SHUTDOWN', 'SLOWLOG', 'MONITOR', 'WAIT', 'READONLY',
  'READWRITE', 'RESET', 'LATENCY', 'MEMORY', 'MODULE', 'ACL', 'CLUSTER', 'DEBUG', 'OBJECT', 'XREAD',
  'XREADGROUP', 'FUNCTION', 'REPLICAOF', 'SLAVEOF', 'ROLE', 'SWAPDB', 'UNWATCH', 'LOLWUT', 'PUBSUB',
]);
const SUBSCRIBE_FAMILY = new Set(['SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE', 'UNSUBSCRIBE', 'PUNSUBSCRIBE', 'SUNSUBSCRIBE']);
const PUSH_KINDS = new Set(['message', 'pmessage', 'smessage']);

/** The last command word and its upper case: clients repeat the same few commands. */
let lastWord = '';
let lastUpper = '';

function command(req: RespFrame): string {
  const w = req.words[0] ?? '';
  if (w !== lastWord) {
    lastWord = w;
    lastUpper = w.toUpperCase();
  }
  return lastUpper;
}

export function describeRedis(req: RespFrame, resp: RespFrame | undefined): Exchange {
  const cmd = command(req);
  const key = KEYLESS.has(cmd) ? '' : req.words[1] ?? '';
  const fields: Record<string, string | number> = { 'redis.command': cmd, 'redis.key': key, 'redis.argc': req.count };
  if (resp !== undefined) fields['redis.reply_type'] = REPLY_TYPES[resp.type] ?? resp.type;
  const failed = resp !== undefined && resp.error !== '';
  return {
    operation: cmd,
    resource: key,
    status: resp === undefined ? '' : failed ? 'error' : 'ok',
    error: resp?.error ?? '',
    fields,
  };
}

function isPush(resp: RespFrame): boolean {
  return resp.type === '>' || (resp.type === '*' && PUSH_KINDS.has(resp.words[0] ?? ''));
}

export class RedisPairer implements Pairer<RespFrame, RespFrame> {
  private readonly fifo: FifoPairer<RespFrame, RespFrame>;
  /** Further channel confirmations still due for the last SUBSCRIBE-like command. */
  private absorb = 0;

  constructor(maxPending?: number) {
    this.fifo = new FifoPairer({ protocol: 'redis', describe: describeRedis, isUnsolicited: isPush }, maxPending);
  }

  request(m: Message<RespFrame>, sink: PairSink): void {
    this.fifo.request(m, sink);
  }

  response(m: Message<RespFrame>, sink: PairSink): void {
    const confirmation = m.frame.type === '*' && SUBSCRIBE_FAMILY.has((m.frame.words[0] ?? '').toUpperCase());
    if (confirmation && this.absorb > 0) {
      this.absorb--;
      return;
    }
    const head = this.fifo.peek();
    const subscribe = confirmation && head !== undefined && SUBSCRIBE_FAMILY.has(command(head.frame));
    this.fifo.response(m, sink);
    if (subscribe && head !== undefined) this.absorb = Math.max(0, head.frame.count - 2);
  }

  gap(dir: Direction, ts: bigint, sink: PairSink): void {
    this.absorb = 0;
    this.fifo.gap(dir, ts, sink);
  }

  end(sink: PairSink): void {
    this.fifo.end(sink);
  }
}
