/**
 * Capture writer and reader throughput on a realistic record mix (HTTP and Redis payloads on
 * loopback sockets, socket tuples, connects/accepts/closes/opens, TCP state changes, fork/exec;
 * src/capture/synthetic.ts), and the bytes each record costs on disk after compression.
 *
 *   npx tsx bench/capture.bench.ts [records=400000] [runs=3]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { CaptureWriter, openCapture, verifyCapture } from '../src/capture/index.js';
import { SyntheticLoad } from '../src/capture/synthetic.js';
import { EVENT_SCHEMA } from '../src/schema/events.generated.js';
import { resolveSchema } from '../src/schema/schema.js';

const total = Number(process.argv[2] ?? 400_000);
const runs = Number(process.argv[3] ?? 3);
const PER_DRAIN = 256;
const MB = 1e6;

const machine = { hostname: 'bench', kernelRelease: release(), kernelVersion: '', arch: process.arch, cpus: cpus().length,
  memoryBytes: totalmem(), bootId: '' };
const clock = { bootNs: 0n, realtimeNs: 0n };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The load, pre-built as ring-buffer drains so generation is not timed. */
function buildDrains(): { drains: Uint8Array[]; rawBytes: number } {
  const load = new SyntheticLoad(resolveSchema(EVENT_SCHEMA), 1);
  const drains: Uint8Array[] = [];
  let rawBytes = 0;
  for (let n = 0; n < total; n += PER_DRAIN) {
    const d = load.batch(Math.min(PER_DRAIN, total - n));
    drains.push(d);
    rawBytes += d.length;
  }
  return { drains, rawBytes };
}

function write(path: string, drains: Uint8Array[], level: number, chunkSize: number): number {
  const t0 = performance.now();
  const w = CaptureWriter.create(path, { machine, clock, snaplen: 4096, level, chunkSize });
  for (const d of drains) w.append(d);
  w.close();
  return (performance.now() - t0) / 1000;
}

async function read(path: string): Promise<{ seconds: number; records: number; peakRssMiB: number }> {
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const t0 = performance.now();
  const r = await openCapture(path);
  let records = 0;
  for await (const c of r.chunks()) {
    // Walk the framing as a consumer would, so the figure includes touching every record.
    const view = new DataView(c.records.buffer, c.records.byteOffset, c.records.byteLength);
    for (let off = 0; off < c.records.length; records++) off += view.getUint32(off, true);
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  await r.close();
  return { seconds: (performance.now() - t0) / 1000, records, peakRssMiB: (peak - rss0) / 2 ** 20 };
}

const dir = mkdtempSync(join(tmpdir(), 'kcap-bench-'));
try {
  const { drains, rawBytes } = buildDrains();
  console.log(`kcap capture bench: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()}, node ${process.version}`);
  console.log(`command: npx tsx bench/capture.bench.ts ${total} ${runs}`);
  console.log(`load: ${total} records, ${(rawBytes / MB).toFixed(1)} MB raw (${(rawBytes / total).toFixed(0)} B/record), drains of ${PER_DRAIN}; median of ${runs} runs\n`);
  console.log('| zstd level | chunk | write MB/s | write rec/s | read MB/s | read rec/s | verify MB/s | file B/record | ratio | read RSS growth |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const [level, chunkSize] of [[1, 1 << 20], [3, 1 << 20], [3, 256 << 10], [9, 1 << 20]] as const) {
    const path = join(dir, `l${level}-${chunkSize}.kcap`);
    const w: number[] = [];
    const rd: number[] = [];
    const v: number[] = [];
    let rss = 0;
    for (let i = 0; i < runs; i++) {
      w.push(write(path, drains, level, chunkSize));
      const res = await read(path);
      if (res.records !== total) throw new Error(`read ${res.records} records, wrote ${total}`);
      rd.push(res.seconds);
      rss = Math.max(rss, res.peakRssMiB);
      const t0 = performance.now();
      const report = await verifyCapture(path);
      if (report.status !== 'intact') throw new Error(`verify says ${report.status}`);
      v.push((performance.now() - t0) / 1000);
    }
    const size = statSync(path).size;
    const mbps = (s: number) => (rawBytes / MB / s).toFixed(0);
    const rps = (s: number) => Math.round(total / s).toString();
    console.log(`| ${level} | ${chunkSize >> 10} KiB | ${mbps(median(w))} | ${rps(median(w))} | ${mbps(median(rd))} | ${rps(median(rd))} | ${mbps(median(v))} `
      + `| ${(size / total).toFixed(1)} | ${(rawBytes / size).toFixed(2)} | ${rss.toFixed(0)} MiB |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
