/**
 * `kcap analyze` speed against tshark on the same traffic, and on a large capture.
 *
 * 1. nginx serves wrk on loopback for a few seconds while `kcap record` traces the client (wrk)
 *    and tcpdump captures the same port; then `kcap analyze` of the .kcap and
 *    `tshark -q -z http,tree` of the .pcap are timed, each in its own process (wall time, peak RSS).
 * 2. The recording's chunks are repeated (timestamps shifted) into a capture of >= 1 GB of raw
 *    events, and `kcap analyze` of it is timed the same way. Several sizes (`1,3,10`) are analyzed
 *    one after the other, so peak RSS can be seen to stay flat as the capture grows (each takes
 *    about a minute per 3 GB on the bench VM, and a file per size is written and removed).
 *
 *   npx tsx bench/analyze.bench.ts [seconds=3] [large-GB=1[,GB…]]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../src/analyze/analyze.js';
import { CaptureWriter, openCapture } from '../src/capture/index.js';
import { ensurePackages, startNginx, type Server } from '../test/helpers/servers.js';

const KCAP = new URL('../bin/kcap.js', import.meta.url).pathname;
const seconds = Number(process.argv[2] ?? 3);
const largeArg = process.argv[3] ?? '1';
const largeGbs = largeArg.split(',').map(Number).sort((a, b) => a - b);

/** Child mode: analyze one file and print what it took. */
async function analyzeOnce(file: string): Promise<void> {
  const t0 = performance.now();
  const src = await openCapture(file);
  const r = await analyze(src);
  await src.close();
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ ms, requests: r.requests, events: r.capture.events, percentiles: r.percentiles.method, maxRssKb: process.resourceUsage().maxRSS }));
}

interface Timed { ms: number; maxRssKb: number; out: string }

/** Runs a command under GNU time's peak-RSS report (%M) and measures its wall time. */
function timed(cmd: string, args: string[]): Timed {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', 'KCAP_MAXRSS %M', cmd, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr.slice(-500)}`);
  const rss = /KCAP_MAXRSS (\d+)/.exec(r.stderr);
  return { ms, maxRssKb: Number(rss?.[1] ?? 0), out: r.stdout };
}

async function recordHttp(dir: string, nginx: Server): Promise<{ kcap: string; pcap: string; wrkRequests: number }> {
  const kcap = join(dir, 'http.kcap');
  const pcap = join(dir, 'http.pcap');
  const dump = spawn('tcpdump', ['-i', 'lo', '-s', '0', '-w', pcap, `tcp port ${nginx.port}`], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000));
  const url = `http://127.0.0.1:${nginx.port}/index.html`;
  const rec = spawnSync(process.execPath, [KCAP, 'record', '-o', kcap, '--', 'wrk', '-t1', '-c4', `-d${seconds}s`, url], { encoding: 'utf8' });
  await new Promise((r) => setTimeout(r, 500));
  dump.kill('SIGINT');
  await new Promise((r) => dump.once('exit', r));
  if (rec.status !== 0) throw new Error(`kcap record failed: ${rec.stderr}`);
  const m = /(\d+) requests in/.exec(rec.stdout);
  return { kcap, pcap, wrkRequests: Number(m?.[1] ?? 0) };
}

/** Writes `file`'s chunks again and again, shifted in time, until `bytes` of raw records. */
async function repeatCapture(file: string, out: string, bytes: number): Promise<number> {
  const src = await openCapture(file);
  const w = CaptureWriter.create(out, { machine: src.machine, clock: src.clock, snaplen: src.snaplen, tables: src.tables });
  let raw = 0;
  let shift = 0n;
  let span = 1n;
  while (raw < bytes) {
    for await (const c of src.chunks()) {
      const copy = Buffer.from(c.records);
      for (let off = 0; off < copy.length; off += copy.readUInt32LE(off)) {
        copy.writeBigUInt64LE(copy.readBigUInt64LE(off + 8) + shift, off + 8);
      }
      w.append(copy);
      raw += copy.length;
      span = c.lastTs - src.clock.bootNs + 1n > span ? c.lastTs - src.clock.bootNs + 1n : span;
    }
    shift += span;
  }
  w.close();
  await src.close();
  return raw;
}

function line(name: string, t: Timed, requests: number, events: number): string {
  const s = t.ms / 1000;
  return `${name.padEnd(34)} ${s.toFixed(2).padStart(7)} s  ${Math.round(requests / s).toString().padStart(9)} req/s  `
    + `${Math.round(events / s).toString().padStart(10)} events/s  peak RSS ${(t.maxRssKb / 1024).toFixed(0)} MiB`;
}

/** Times `kcap analyze` of the recording repeated to `gb` GB raw; returns its peak RSS as "N GB: M MiB". */
async function analyzeLarge(kcap: string, large: string, gb: number, self: string[]): Promise<string> {
  const raw = await repeatCapture(kcap, large, gb * 1e9);
  const l = timed(process.execPath, [...self, large]);
  const lr = JSON.parse(l.out.trim().split('\n').pop()!);
  console.log(`Large: the recording repeated to ${(raw / 1e9).toFixed(2)} GB raw (${(statSync(large).size / 1e6).toFixed(0)} MB on disk)`);
  console.log(`  ${line('kcap analyze', l, lr.requests, lr.events)}  (${lr.requests} requests, ${(raw / 1e6 / (l.ms / 1000)).toFixed(0)} MB/s raw, percentiles ${lr.percentiles})`);
  rmSync(large);
  return `${(raw / 1e9).toFixed(2)} GB: ${(l.maxRssKb / 1024).toFixed(0)} MiB`;
}

async function main(): Promise<void> {
  const missing = ensurePackages('nginx', 'wrk', 'tcpdump', 'tshark', 'time');
  if (missing) throw new Error(missing);
  spawnSync('npx', ['tsc', '-p', '.'], { cwd: new URL('..', import.meta.url).pathname });
  const dir = mkdtempSync(join(tmpdir(), 'kcap-bench-analyze-'));
  const nginx = await startNginx({ 'index.html': 'hello from nginx\n'.repeat(20) });
  try {
    const { kcap, pcap, wrkRequests } = await recordHttp(dir, nginx);
    const self = ['--import', 'tsx', new URL(import.meta.url).pathname, '--analyze-once'];
    const k = timed(process.execPath, [...self, kcap]);
    const kr = JSON.parse(k.out.trim().split('\n').pop()!);
    const t = timed('tshark', ['-r', pcap, '-q', '-z', 'http,tree']);
    const tsharkRequests = Number(/Total HTTP Packets\s+(\d+)/.exec(t.out)?.[1] ?? 0);
    console.log(`HTTP on loopback: nginx + wrk -t1 -c4 -d${seconds}s (wrk says ${wrkRequests} requests)`);
    console.log(`  .kcap ${(statSync(kcap).size / 1e6).toFixed(1)} MB, .pcap ${(statSync(pcap).size / 1e6).toFixed(1)} MB`);
    console.log(`  ${line('kcap analyze', k, kr.requests, kr.events)}  (${kr.requests} requests)`);
    console.log(`  ${line('tshark -q -z http,tree', t, tsharkRequests / 2, 0)}  (${tsharkRequests} HTTP packets)`);
    console.log(`  kcap/tshark time ratio ${(k.ms / t.ms).toFixed(2)}`);
    const peaks: string[] = [];
    for (const gb of largeGbs) peaks.push(await analyzeLarge(kcap, join(dir, `large-${gb}.kcap`), gb, self));
    if (peaks.length > 1) console.log(`Peak RSS as the capture grows: ${peaks.join(', ')}`);
    console.log(`command: npx tsx bench/analyze.bench.ts ${seconds} ${largeArg}`);
  } finally {
    await nginx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--analyze-once') await analyzeOnce(process.argv[3]!);
else await main();
