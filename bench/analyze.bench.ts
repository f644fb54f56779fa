/**
 * `kcap analyze` speed against tshark on the same traffic, and on large captures.
 *
 * 1. For each workload — nginx serving wrk, redis serving redis-benchmark, nginx serving h2load
 *    over cleartext HTTP/2 — `kcap record` traces both ends (the client command and the server's
 *    processes) while tcpdump captures the same port; then `kcap analyze --json` of the .kcap with 1 and with 2 worker threads, and tshark's
 *    own report of the .pcap (`-z http,tree`; RESP frames with `-z io,stat`; for HTTP/2, every
 *    HEADERS frame's method as fields, since its `-z http2,tree` counts packets), are timed, each in
 *    its own process (wall time, peak RSS), with the request counts of kcap, tshark and the client.
 * 2. The nginx recording's chunks are repeated (timestamps shifted) into captures of the given
 *    sizes of raw events, each analyzed with 1 and 2 jobs. Several sizes (`1,3,10`) are analyzed
 *    one after the other, so peak RSS can be seen to stay flat as the capture grows (each takes
 *    about a minute per 3 GB on the bench VM, and a file per size is written and removed).
 *
 *   npx tsx bench/analyze.bench.ts [seconds=3] [large-GB=1[,GB…]]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureWriter, openCapture } from '../src/capture/index.js';
import { ensurePackages, startNginx, startRedis, type Server } from '../test/helpers/servers.js';

const KCAP = new URL('../bin/kcap.js', import.meta.url).pathname;
const seconds = Number(process.argv[2] ?? 3);
const largeArg = process.argv[3] ?? '1';
const largeGbs = largeArg.split(',').map(Number).sort((a, b) => a - b);

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

interface Workload {
  readonly name: string;
  readonly server: Server;
  /** The client command, and the requests it says it made, from its output. */
  readonly client: readonly string[];
  clientRequests(stdout: string): number;
  /** tshark's report of the same traffic, and the requests it counts in it. */
  readonly tshark: readonly string[];
  tsharkRequests(stdout: string): number;
}

function nginxWorkload(nginx: Server): Workload {
  return {
    name: `nginx + wrk -t1 -c4 -d${seconds}s`, server: nginx,
    client: ['wrk', '-t1', '-c4', `-d${seconds}s`, `http://127.0.0.1:${nginx.port}/index.html`],
    clientRequests: (out) => Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    tshark: ['-q', '-z', 'http,tree'],
    // Requests and responses are both HTTP packets.
    tsharkRequests: (out) => Number(/Total HTTP Packets\s+(\d+)/.exec(out)?.[1] ?? 0) / 2,
  };
}

function redisWorkload(redis: Server, n: number): Workload {
  return {
    name: `redis-benchmark -n ${n} -c 10 -t get,set`, server: redis,
    client: ['redis-benchmark', '-p', String(redis.port), '-n', String(n), '-c', '10', '-t', 'get,set', '-q'],
    clientRequests: (out) => (out.match(/requests per second/g)?.length ?? 0) * n,
    tshark: ['-q', '-d', `tcp.port==${redis.port},resp`, '-z', 'io,stat,0,resp'],
    // Frames carrying RESP, requests and replies alike (redis-benchmark pipelines none here).
    tsharkRequests: (out) => Math.floor(Number(/<>[^|]*\|\s*(\d+)\s*\|/.exec(out)?.[1] ?? 0) / 2),
  };
}

function http2Workload(nginx: Server, n: number): Workload {
  return {
    name: `h2load -n ${n} -c 4 -m 8 (nginx, cleartext HTTP/2)`, server: nginx,
    client: ['h2load', '-n', String(n), '-c', '4', '-m', '8', `http://127.0.0.1:${nginx.port}/index.html`],
    clientRequests: (out) => Number(/(\d+) succeeded/.exec(out)?.[1] ?? 0),
    // tshark's stats trees count packets, not streams: its per-request view is one method per HEADERS frame.
    tshark: ['-d', `tcp.port==${nginx.port},http2`, '-T', 'fields', '-e', 'http2.headers.method'],
    tsharkRequests: (out) => out.match(/[A-Z]+/g)?.length ?? 0,
  };
}

/** Records `w` with both ends traced, and the same port with tcpdump. */
async function record(dir: string, w: Workload): Promise<{ kcap: string; pcap: string; clientRequests: number }> {
  const tag = w.name.split(' ')[0]!;
  const kcap = join(dir, `${tag}.kcap`);
  const pcap = join(dir, `${tag}.pcap`);
  const dump = spawn('tcpdump', ['-i', 'lo', '-s', '0', '-w', pcap, `tcp port ${w.server.port}`], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000));
  const rec = spawnSync(process.execPath, [KCAP, 'record', '-o', kcap, '-p', String(w.server.pid), '--', ...w.client], { encoding: 'utf8', maxBuffer: 64 << 20 });
  await new Promise((r) => setTimeout(r, 500));
  dump.kill('SIGINT');
  await new Promise((r) => dump.once('exit', r));
  if (rec.status !== 0) throw new Error(`kcap record failed: ${rec.stderr}`);
  return { kcap, pcap, clientRequests: w.clientRequests(rec.stdout) };
}

interface Analyzed extends Timed { requests: number; events: number; percentiles: string }

function kcapAnalyze(file: string, jobs: number): Analyzed {
  const t = timed(process.execPath, [KCAP, 'analyze', '--json', '--jobs', String(jobs), file]);
  const r = JSON.parse(t.out) as { requests: number; capture: { events: number }; percentiles: { method: string } };
  return { ...t, requests: r.requests, events: r.capture.events, percentiles: r.percentiles.method };
}

async function compare(dir: string, w: Workload): Promise<string> {
  const { kcap, pcap, clientRequests } = await record(dir, w);
  const k1 = kcapAnalyze(kcap, 1);
  const k2 = kcapAnalyze(kcap, 2);
  const t = timed('tshark', ['-r', pcap, ...w.tshark]);
  const tr = w.tsharkRequests(t.out);
  console.log(`${w.name}, both ends traced (the client says ${clientRequests} requests)`);
  console.log(`  .kcap ${(statSync(kcap).size / 1e6).toFixed(1)} MB, .pcap ${(statSync(pcap).size / 1e6).toFixed(1)} MB`);
  console.log(`  ${line('kcap analyze --jobs 1', k1, k1.requests, k1.events)}  (${k1.requests} requests)`);
  console.log(`  ${line('kcap analyze --jobs 2', k2, k2.requests, k2.events)}  (${k2.requests} requests)`);
  console.log(`  ${line(`tshark ${w.tshark.join(' ')}`, t, tr, 0)}  (${tr} requests)`);
  const ratio = `tshark/kcap time ${(t.ms / k1.ms).toFixed(2)}x with 1 job, ${(t.ms / k2.ms).toFixed(2)}x with 2; 2 jobs ${(k1.ms / k2.ms).toFixed(2)}x 1`;
  console.log(`  ${ratio}`);
  return kcap;
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
async function analyzeLarge(kcap: string, large: string, gb: number): Promise<string> {
  const raw = await repeatCapture(kcap, large, gb * 1e9);
  console.log(`Large: the nginx recording repeated to ${(raw / 1e9).toFixed(2)} GB raw (${(statSync(large).size / 1e6).toFixed(0)} MB on disk)`);
  const peaks: string[] = [];
  for (const jobs of [1, 2]) {
    const l = kcapAnalyze(large, jobs);
    console.log(`  ${line(`kcap analyze --jobs ${jobs}`, l, l.requests, l.events)}  (${l.requests} requests, ${(raw / 1e6 / (l.ms / 1000)).toFixed(0)} MB/s raw, percentiles ${l.percentiles})`);
    peaks.push(`${(l.maxRssKb / 1024).toFixed(0)} MiB with ${jobs} job${jobs > 1 ? 's' : ''}`);
  }
  rmSync(large);
  return `${(raw / 1e9).toFixed(2)} GB: ${peaks.join(', ')}`;
}

async function main(): Promise<void> {
  const missing = ensurePackages('nginx', 'wrk', 'redis-server', 'redis-tools', 'nghttp2-client', 'tcpdump', 'tshark', 'time');
  if (missing) throw new Error(missing);
  spawnSync('npx', ['tsc', '-p', '.'], { cwd: new URL('..', import.meta.url).pathname });
  const dir = mkdtempSync(join(tmpdir(), 'kcap-bench-analyze-'));
  const nginx = await startNginx({ 'index.html': 'hello from nginx\n'.repeat(20) });
  const redis = await startRedis();
  const nginxH2 = await startNginx({ 'index.html': 'hello from nginx\n'.repeat(20) }, { http2: true });
  try {
    const http = await compare(dir, nginxWorkload(nginx));
    await compare(dir, redisWorkload(redis, 100_000));
    await compare(dir, http2Workload(nginxH2, 60_000));
    const peaks: string[] = [];
    for (const gb of largeGbs) peaks.push(await analyzeLarge(http, join(dir, `large-${gb}.kcap`), gb));
    console.log(`Peak RSS as the capture grows: ${peaks.join('; ')}`);
    console.log(`command: npx tsx bench/analyze.bench.ts ${seconds} ${largeArg}`);
  } finally {
    await nginx.stop();
    await nginxH2.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
