/**
 * Shared helpers of the recorder tests: gating on BPF support (skip with a printed reason, or fail
 * when KCAP_REQUIRE_BPF=1 as in CI), decoding drained records with the schema decoder, and
 * starting traced processes so the kernel sees them from their first syscall.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, it } from 'vitest';
import { checkBpfSupport, type Probes } from '../../src/record/bpf/index.js';
import { RecordDecoder, isDecodeFailure, type DecodedRecord } from '../../src/schema/decode.js';
import { EVENT_SCHEMA } from '../../src/schema/events.generated.js';
import { resolveSchema } from '../../src/schema/schema.js';

/** Why recorder tests cannot run here, or undefined when they can. */
export function bpfUnavailable(): string | undefined {
  const s = checkBpfSupport();
  return s.ok ? undefined : s.reason;
}

/** Throws when BPF is required (KCAP_REQUIRE_BPF=1) but unavailable; otherwise true when usable. */
export function requireBpf(): boolean {
  const reason = bpfUnavailable();
  if (reason === undefined) return true;
  if (process.env.KCAP_REQUIRE_BPF === '1') throw new Error(`KCAP_REQUIRE_BPF=1 but BPF is unavailable: ${reason}`);
  return false;
}

/** describe() for tests that load BPF programs: skipped with a printed reason when BPF is not
 * usable, a failing test when KCAP_REQUIRE_BPF=1. */
export function describeBpf(name: string, body: () => void): void {
  const reason = bpfUnavailable();
  if (reason === undefined) {
    describe(name, body);
  } else if (process.env.KCAP_REQUIRE_BPF === '1') {
    describe(name, () => {
      it('has BPF support (KCAP_REQUIRE_BPF=1)', () => {
        throw new Error(`KCAP_REQUIRE_BPF=1 but BPF is unavailable: ${reason}`);
      });
    });
  } else {
    console.log(`skipping "${name}": ${reason}`);
    describe.skip(name, body);
  }
}

const decoder = new RecordDecoder(resolveSchema(EVENT_SCHEMA));

/** Decodes concatenated records; a record that does not decode fails the test. */
export function decodeAll(chunks: readonly Buffer[]): DecodedRecord[] {
  const out: DecodedRecord[] = [];
  for (const b of chunks) {
    for (let off = 0; off < b.length;) {
      const r = decoder.decode(b, off);
      if (isDecodeFailure(r)) throw new Error(`record at offset ${off} does not decode: ${r.error}`);
      out.push(r);
      off += r.length;
    }
  }
  return out;
}

/** Runs `load` while draining every 5 ms, as the recorder does (a busy load would fill the rings
 * otherwise), then drains what is left; resolves to what `load` gave and every record. */
export async function recordDuring<T>(probes: Probes, load: () => Promise<T>): Promise<{ result: T; records: DecodedRecord[] }> {
  const chunks: Buffer[] = [];
  const timer = setInterval(() => {
    const b = probes.drain();
    if (b) chunks.push(b);
  }, 5);
  let result: T;
  try {
    result = await load();
  } finally {
    clearInterval(timer);
  }
  await drainAll(probes, chunks);
  return { result, records: decodeAll(chunks) };
}

/** Drains until nothing more arrives for a while (records of exiting processes come late). */
export async function drainAll(probes: Probes, into: Buffer[], quietMs = 200): Promise<void> {
  let quietSince = Date.now();
  while (Date.now() - quietSince < quietMs) {
    const b = probes.drain();
    if (b) {
      into.push(b);
      quietSince = Date.now();
    } else {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Traced {
  readonly child: ChildProcess;
  /** pid of the shell that execs the command (the command keeps it). */
  readonly pid: number;
  readonly stdout: () => string;
  readonly exited: Promise<number | null>;
}

/** Starts `command` through a shell that waits for a go-ahead on stdin, so the caller can add its
 * pid to the probes before the command runs: the whole process tree is then traced from birth. */
export function spawnTraced(command: string, probes: Probes): Traced {
  const child = spawn('sh', ['-c', `read go; exec ${command}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  probes.addPid(child.pid!);
  child.stdin!.end('go\n');
  return { child, pid: child.pid!, stdout: () => out, exited };
}

/** Waits until a TCP port on 127.0.0.1 accepts connections. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Dotted IPv4 of a tuple address field. */
export function ipv4(addr: unknown): string {
  return Array.from((addr as Uint8Array).subarray(0, 4)).join('.');
}
