/**
 * Deterministic synthetic record streams for tests and benchmarks: a realistic mix of what the
 * recorder sees on a busy server (HTTP and Redis request/response payloads on loopback sockets,
 * connects, accepts, closes, opens, TCP state changes, the odd fork/exec), built with the same
 * encoder the schema tests use. Same seed, same bytes.
 */
import { encodeRecord } from '../schema/encode.js';
import type { ResolvedSchema } from '../schema/schema.js';

/** Small seeded PRNG (mulberry32): reproducible loads without Math.random. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LOOPBACK = Uint8Array.of(127, 0, 0, 1, ...new Array<number>(12).fill(0));

interface Conn {
  readonly pid: number;
  readonly fd: number;
  readonly ino: number;
  readonly lport: number;
  readonly rport: number;
  readonly kind: 'http' | 'redis';
}

/** Generates records one at a time, with ts advancing a few µs per event across `cpus` CPUs. */
export class SyntheticLoad {
  private readonly rnd: () => number;
  private ts: bigint;
  private readonly conns: Conn[] = [];
  private nextIno = 40_000;

  constructor(private readonly schema: ResolvedSchema, seed = 1, startTs = 1_000_000_000n, private readonly cpus = 4) {
    this.rnd = seededRandom(seed);
    this.ts = startTs;
  }

  private int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  private tick(): { ts: bigint; cpu: number } {
    this.ts += BigInt(1_000 + this.int(20_000));
    // Ring-buffer order is not strict ts order across CPUs: jitter a little backwards sometimes.
    const jitter = this.int(8) === 0 ? BigInt(this.int(500)) : 0n;
    return { ts: this.ts - jitter, cpu: this.int(this.cpus) };
  }

  private tuple(c: Conn): Record<string, number | Uint8Array> {
    return { ino: c.ino, laddr: LOOPBACK, raddr: LOOPBACK, lport: c.lport, rport: c.rport, family: 2, l4proto: 6, socktype: 1 };
  }

  private conn(): Conn {
    if (this.conns.length < 4 || this.int(20) === 0) {
      const kind = this.int(2) === 0 ? 'http' : 'redis';
      const c: Conn = { pid: kind === 'http' ? 4100 : 4200, fd: 5 + this.int(200), ino: this.nextIno++,
        lport: kind === 'http' ? 8080 : 6379, rport: 32768 + this.int(28000), kind };
      this.conns.push(c);
      if (this.conns.length > 64) this.conns.shift();
      return c;
    }
    return this.conns[this.int(this.conns.length)]!;
  }

  private payload(c: Conn, request: boolean): string {
    const id = this.int(100_000);
    if (c.kind === 'redis') {
      return request ? `*2\r\n$3\r\nGET\r\n$${`user:${id}`.length}\r\nuser:${id}\r\n` : `$${`{"id":${id}}`.length}\r\n{"id":${id}}\r\n`;
    }
    if (request) return `GET /api/v1/items/${id}?page=${this.int(9)} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n`;
    const body = `{"id":${id},"name":"item-${id}","price":${this.int(10_000) / 100},"tags":["a","b"]}`;
    return `HTTP/1.1 200 OK\r\nServer: nginx/1.26.3\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n${body}`;
  }

  /** The next record of the mix. */
  next(): Uint8Array {
    const roll = this.int(100);
    const { ts, cpu } = this.tick();
    const c = this.conn();
    const base = { ts, cpu, pid: c.pid, tid: c.pid + this.int(4) };
    const io = (res: number) => ({ res, latency: 2_000 + this.int(90_000), fd: c.fd, flags: 0, ...this.tuple(c) });
    if (roll < 70) {
      const request = roll < 35;
      const data = this.payload(c, request);
      return encodeRecord(this.schema, request ? 'read' : 'write', { ...base, fields: io(data.length), vars: { data } });
    }
    if (roll < 78) return encodeRecord(this.schema, 'sendto', { ...base, fields: io(48), vars: { data: this.payload(c, false).slice(0, 48), addr: LOOPBACK.subarray(0, 8) } });
    if (roll < 84) return encodeRecord(this.schema, 'accept4', { ...base, fields: { ...io(c.fd), listen_fd: 3 }, vars: { addr: LOOPBACK.subarray(0, 8) } });
    if (roll < 88) return encodeRecord(this.schema, 'connect', { ...base, fields: io(0), vars: { addr: LOOPBACK.subarray(0, 8) } });
    if (roll < 93) return encodeRecord(this.schema, 'close', { ...base, fields: io(0) });
    if (roll < 96) return encodeRecord(this.schema, 'openat', { ...base, fields: { res: 7, latency: 3_000, dirfd: -100, flags: 0 }, vars: { path: `/var/lib/app/data/${this.int(50)}.db` } });
    if (roll < 99) return encodeRecord(this.schema, 'sock_set_state', { ...base, fields: { ...this.tuple(c), oldstate: 1, newstate: 8 } });
    return this.int(2) === 0
      ? encodeRecord(this.schema, 'fork', { ...base, fields: { child_pid: 5000 + this.int(1000), child_tid: 5000 }, vars: { child_comm: 'worker' } })
      : encodeRecord(this.schema, 'exec', { ...base, fields: { old_tid: base.tid }, vars: { filename: '/usr/bin/curl', comm: 'curl', args: 'curl\0-s\0http://127.0.0.1:8080/' } });
  }

  /** `n` records concatenated, as one ring-buffer drain would hand them over. */
  batch(n: number): Uint8Array {
    const parts = Array.from({ length: n }, () => this.next());
    const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}
