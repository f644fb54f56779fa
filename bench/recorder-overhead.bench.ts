/**
 * What recording costs a traced workload: redis-benchmark throughput against redis-server on
 * loopback without probes, then with kcap's probes attached (all processes, and only the redis
 * pair), drained by this process into a capture file as the recorder does (same interval, same
 * zstd level). Prints requests/s, the traced share of untraced throughput, events/s, bytes/s, file
 * bytes/s and lost events, and the command.
 *
 * Runs alternate (untraced, traced all, traced pids, untraced, …) so drift in a shared machine's
 * load hits every mode alike; between runs it waits until the previous probes are fully detached.
 * Throughput runs have kernel.bpf_stats_enabled off: the statistics read the clock twice per
 * program run, and in a VM (kvm-clock) that alone costs a fifth of the tracing overhead. One more
 * run per mode with the statistics on gives the time spent inside kcap's programs per recorded
 * event, a figure the machine's other load does not distort.
 *
 * With a baseline object (an earlier build of native/bpf/kcap.bpf.o, e.g. from `git show
 * main:native/bpf/kcap.bpf.o`), the same runs also alternate with that build, so a change is
 * compared with its predecessor under the same machine load. Before this build, programs woke
 * the consumer past half the ring: baseline runs pass that wakeup threshold.
 *
 *   npx tsx bench/recorder-overhead.bench.ts [requests=200000] [runs=3] [snaplen=4096] [baseline.o]
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { CaptureWriter } from '../src/capture/index.js';
import { DRAIN_INTERVAL_MS, RECORD_ZSTD_LEVEL } from '../src/record/recorder.js';
import { readMachineInfo } from '../src/record/proc/index.js';
import { checkBpfSupport, clockAnchor, DEFAULT_RING_BYTES, loadedPrograms, openProbes, type ProbeOptions, type Probes } from '../src/record/bpf/index.js';

const requests = Number(process.argv[2] ?? 200_000);
const runs = Number(process.argv[3] ?? 3);
const snaplen = Number(process.argv[4] ?? 4096);
const baselineObject = process.argv[5];

interface Run {
  rps: number;
  seconds: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** One redis-benchmark run (async, so this process keeps draining meanwhile). */
function benchmark(port: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('redis-benchmark', ['-p', String(port), '-n', String(requests), '-c', '10', '-t', 'get,set', '--csv']);
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`redis-benchmark exited ${code}`));
      const rps = [...out.matchAll(/^"(?:SET|GET)","([\d.]+)"/gm)].map((m) => Number(m[1]));
      resolve({ rps: rps.reduce((a, b) => a + b, 0) / rps.length, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

/** Records in a drained buffer (each starts with its u32 length). */
function countRecords(b: Buffer): number {
  let n = 0;
  for (let off = 0; off + 24 <= b.length; off += b.readUInt32LE(off)) {
    if (b.readUInt32LE(off) < 24) throw new Error(`record framing lost at offset ${off}`);
    n++;
  }
  return n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Traced {
  rps: number;
  eventsPerSec: number;
  mibPerSec: number;
  fileMibPerSec: number;
  /** CPU seconds this (recorder) process used per second of the run, user + system. */
  recorderCpu: number;
  lost: number;
  /** ns spent in kcap's programs (enter, exit, filtered-out runs) per recorded event. */
  bpfNsPerEvent: number;
  /** The costliest programs: name, average ns per run, runs. */
  top: Array<[string, number, number]>;
}

const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled';

const kcapIds = () => new Set(loadedPrograms().filter((p) => p.name.startsWith('kcap_')).map((p) => p.id));

/** Waits until no kcap program is loaded any more (close() detaches in the background). */
async function detached(): Promise<void> {
  while (loadedPrograms().some((p) => p.name.startsWith('kcap_'))) await new Promise((r) => setTimeout(r, 100));
}

async function traced(port: number, dir: string, options: ProbeOptions, stats: boolean): Promise<Traced> {
  writeFileSync(BPF_STATS, stats ? '1' : '0');
  const before = kcapIds();
  const probes: Probes = openProbes({ snaplen, ...options });
  const ours = new Set([...kcapIds()].filter((id) => !before.has(id)));
  const file = join(dir, 'bench.kcap');
  const writer = CaptureWriter.create(file, { machine: readMachineInfo(), clock: clockAnchor(), snaplen, level: RECORD_ZSTD_LEVEL });
  let events = 0;
  let bytes = 0;
  const drain = () => {
    for (let b = probes.drain(); b; b = probes.drain()) {
      events += countRecords(b);
      bytes += b.length;
      writer.append(b);
    }
  };
  const cpu0 = process.cpuUsage();
  const timer = setInterval(drain, DRAIN_INTERVAL_MS);
  let run: Run;
  try {
    run = await benchmark(port);
  } finally {
    clearInterval(timer);
    drain();
    writer.close();
  }
  const cpu = process.cpuUsage(cpu0);
  const fileBytes = statSync(file).size;
  rmSync(file);
  const { lost, malformed } = probes.stats();
  const progs = loadedPrograms().filter((p) => ours.has(p.id) && p.runCount > 0);
  probes.close();
  await detached();
  if (malformed) throw new Error(`${malformed} malformed records`);
  const bpfNs = progs.reduce((n, p) => n + p.runTimeNs, 0);
  const top = progs.sort((a, b) => b.runTimeNs - a.runTimeNs).slice(0, 5)
    .map((p): [string, number, number] => [p.name, p.runTimeNs / p.runCount, p.runCount]);
  return { rps: run.rps, eventsPerSec: events / run.seconds, mibPerSec: bytes / run.seconds / 2 ** 20,
    fileMibPerSec: fileBytes / run.seconds / 2 ** 20, recorderCpu: (cpu.user + cpu.system) / 1e6 / run.seconds, lost, bpfNsPerEvent: bpfNs / events, top };
}

function summary(label: string, ts: Traced[], withStats: Traced, baseRps: number): string {
  const rps = median(ts.map((t) => t.rps));
  return `${label.padEnd(28)} ${rps.toFixed(0).padStart(8)} req/s  ${(100 * rps / baseRps).toFixed(1).padStart(5)} % of untraced  `
    + `${median(ts.map((t) => t.eventsPerSec)).toFixed(0).padStart(8)} events/s  `
    + `${median(ts.map((t) => t.mibPerSec)).toFixed(1).padStart(6)} MiB/s (file ${median(ts.map((t) => t.fileMibPerSec)).toFixed(1)})  recorder CPU ${(100 * median(ts.map((t) => t.recorderCpu))).toFixed(1)} %  lost ${ts.reduce((n, t) => n + t.lost, 0)}  `
    + `${withStats.bpfNsPerEvent.toFixed(0)} ns in BPF per event (bpf_stats run: ${withStats.rps.toFixed(0)} req/s)\n`
    + withStats.top.map(([name, ns, runs]) => `      ${name.padEnd(18)} ${ns.toFixed(0).padStart(5)} ns/run  ${runs} runs`).join('\n');
}

async function main(): Promise<void> {
  const support = checkBpfSupport();
  if (!support.ok) throw new Error(`cannot measure: ${support.reason}`);
  execFileSync('bash', ['scripts/ensure-packages.sh', 'redis-server', 'redis-tools'], { stdio: 'inherit' });
  const dir = mkdtempSync(join(tmpdir(), 'kcap-bench-'));
  const port = await freePort();
  const statsWas = readFileSync(BPF_STATS, 'utf8').trim();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && spawnSync('redis-cli', ['-p', String(port), 'ping']).stdout?.toString().trim() !== 'PONG'; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await detached();
    const modes: Array<[string, ProbeOptions]> = [
      ['traced, all processes', {}],
      ['traced, redis-server only', { pids: [server.pid!] }],
    ];
    if (baselineObject) {
      const baseline = { objectPath: baselineObject, wakeupBytes: DEFAULT_RING_BYTES / 2 };
      modes.push(['baseline, all processes', baseline], ['baseline, redis-server only', { ...baseline, pids: [server.pid!] }]);
    }
    const base: number[] = [];
    const results = modes.map((): Traced[] => []);
    for (let i = 0; i < runs; i++) {
      base.push((await benchmark(port)).rps);
      for (const [m, [, options]] of modes.entries()) results[m]!.push(await traced(port, dir, options, false));
    }
    const withStats: Traced[] = [];
    for (const [, options] of modes) withStats.push(await traced(port, dir, options, true));
    const baseRps = median(base);
    console.log(`kcap recorder overhead — ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()}, node ${process.version}`);
    console.log(`command: npx tsx bench/recorder-overhead.bench.ts ${process.argv.slice(2).join(' ')}`);
    console.log(`redis-benchmark -n ${requests} -c 10 -t get,set, median of ${runs} alternating runs (bpf_stats off), snaplen ${snaplen}`);
    console.log(`${'untraced'.padEnd(28)} ${baseRps.toFixed(0).padStart(8)} req/s  (runs: ${base.map((r) => r.toFixed(0)).join(', ')})`);
    for (const [m, [label]] of modes.entries()) console.log(summary(label, results[m]!, withStats[m]!, baseRps));
  } finally {
    writeFileSync(BPF_STATS, statsWas);
    server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
