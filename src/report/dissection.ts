/**
 * Per-connection dissection for `kcap print -A`. Every TCP socket end's bytes are followed
 * through all events, not only those the filter shows, because a dissector must see a stream in
 * full to read it; the end's protocol is detected as analyze detects it (detectEnd, the same
 * attempts), and when that protocol has a dissector (ProtocolSpec.dissect) each read/write
 * becomes the dissector's lines, which the printer shows under the event in place of raw text.
 * Other protocols print as before.
 *
 * Bounded: at most MAX_ENDS ends are followed, the least recently active forgotten first (should
 * it speak again it is detected afresh, as a connection joined mid-way); each dissector bounds
 * its own state.
 */
import { clientRole, DETECT_ATTEMPTS, detectEnd, socketKey } from '../analyze/connections.js';
import type { KEvent } from '../probe/event.js';
import { AF_INET, AF_INET6, IPPROTO_TCP } from '../probe/net.js';
import type { DissectLine, Dissector } from '../protocols/index.js';

/** Socket ends followed at once. */
export const MAX_ENDS = 256;

/** What is known about one socket end. */
interface End {
  /** Detection is over: `dissector` is what it found (undefined: no protocol, or one without a dissector). */
  settled: boolean;
  attempts: number;
  isClient: boolean;
  dissector: Dissector | undefined;
}

export class ConnectionDissection {
  private readonly ends = new Map<number, End>();
  /** Lines for the event `linesNum` (the one just observed). */
  private lines: readonly DissectLine[] | undefined;
  private linesNum = -1;

  constructor(private readonly maxEnds = MAX_ENDS) {}

  /** Feed for every kept event, in capture order (Replayer's `observe`). */
  readonly observe = (ev: KEvent): void => {
    this.lines = undefined;
    const fd = ev.fd;
    if (fd === undefined || (fd.family !== AF_INET && fd.family !== AF_INET6) || fd.l4proto !== IPPROTO_TCP) return;
    if (ev.isIo) this.io(ev);
    else if (ev.name === 'close' && fd.gen !== 0) this.ends.delete(socketKey(ev.pid, fd));
  };

  /** The dissected lines of `ev` if its connection has a dissector, else undefined (show the bytes). */
  linesOf(ev: KEvent): readonly DissectLine[] | undefined {
    return this.linesNum === ev.num ? this.lines : undefined;
  }

  /** Socket ends followed now. */
  get followed(): number {
    return this.ends.size;
  }

  /** The kernel lost events: every followed stream may have a hole of unknown size. */
  lost(): void {
    for (const end of this.ends.values()) {
      end.dissector?.gap('req', Number.MAX_SAFE_INTEGER);
      end.dissector?.gap('resp', Number.MAX_SAFE_INTEGER);
    }
  }

  private io(ev: KEvent): void {
    const size = ev.res ?? 0;
    const fd = ev.fd!;
    if (size <= 0 || (ev.rport ?? 0) === 0) return;
    const end = this.endOf(socketKey(ev.pid, fd));
    const outgoing = ev.dir === 'out';
    const payload = ev.payload;
    if (!end.settled) this.detect(end, ev, payload, outgoing);
    if (end.dissector === undefined) return;
    this.lines = end.dissector.data(outgoing === end.isClient ? 'req' : 'resp', payload, size);
    this.linesNum = ev.num;
  }

  /** The end with this key, made the most recently used; a new one evicts the least recently used past the cap. */
  private endOf(key: number): End {
    let end = this.ends.get(key);
    if (end !== undefined) {
      this.ends.delete(key);
    } else {
      end = { settled: false, attempts: 0, isClient: true, dissector: undefined };
      if (this.ends.size >= this.maxEnds) this.ends.delete(this.ends.keys().next().value as number);
    }
    this.ends.set(key, end);
    return end;
  }

  private detect(end: End, ev: KEvent, payload: Uint8Array, outgoing: boolean): void {
    if (payload.length === 0) return;
    const isClient = clientRole(ev.fd!);
    const serverPort = isClient === undefined ? undefined : isClient ? ev.rport : ev.lport;
    const found = detectEnd(payload, outgoing, 'stream', isClient, serverPort);
    if (found === undefined) {
      end.settled = ++end.attempts >= DETECT_ATTEMPTS;
      return;
    }
    end.settled = true;
    end.isClient = found.isClient;
    end.dissector = found.protocol.dissect?.();
  }
}
