/**
 * What recording costs a traced workload, measured with the real `kcap record` command: throughput
 * of redis-benchmark against redis-server, and of wrk against nginx, on loopback, untraced and
 * while `kcap record` traces every process, only the server (`--comm`), or keeps only the I/O of
 * the server's port (a record filter, which the programs apply before copying payloads). Prints requests/s, the
 * traced share of untraced throughput, events/s, bytes/s of events and of file, lost events, and
 * the recorder's CPU (user + system, from /proc, while the workload ran), its peak RSS and its
 * PSS (which counts the twice-mapped rings once). It also prints the machine's busy CPU time per
 * request (/proc/stat, all CPUs, steal left out): on a shared VM whose neighbours take a varying
 * share of the CPU, untraced over traced CPU per request is a steadier measure of the cost than
 * throughput, which moves ±15 % between runs. And the server's own CPU per request (scheduler time
 * of every thread of the server and its worker processes): tracing runs in the context of the
 * process that makes the syscall, so when the server is the bottleneck (its busy share near 100 %)
 * untraced over traced server CPU per request is the throughput the programs leave it, whatever the
 * client and the recorder cost the rest of the machine.
 *
 * Runs alternate (untraced, traced all, traced server, untraced, …) so drift in a shared machine's
 * load hits every mode alike, and medians are reported with every run's figure. Throughput runs
 * have kernel.bpf_stats_enabled off: the statistics read the clock twice per program run, which
 * in a VM costs a fifth of the tracing overhead. One more run per mode with the statistics on
 * gives the time spent inside kcap's programs per recorded event, a figure the machine's other
 * load distorts less.
 *
 * With a baseline (the bin/kcap.js of another checkout, built), its runs alternate with this
 * build's too, so a change is compared with its predecessor under the same machine load.
 *
 * The floor mode records with a BPF object whose programs all return at once (lib/floor-object.ts,
 * built with clang-14): what the attached tracepoints cost by themselves, which bounds from above
 * the throughput any version of the programs and the recorder can keep. "paired" is the median of
 * each run's throughput over the untraced run just before it, steadier than the ratio of medians
 * when the machine's speed drifts during the bench.
 *
 *   npx tsx bench/recorder-overhead.bench.ts [runs=5] [redis-requests=200000] [wrk-seconds=3] [baseline/bin/kcap.js]
 *
 * KCAP_BENCH_WORKLOADS=redis (or nginx) measures one workload only, and KCAP_BENCH_MODES=filter (words
 * of the modes' labels, comma-separated) only the modes named, for a quicker A/B.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadedPrograms } from '../src/record/bpf/index.js';
import { buildFloorObject } from './lib/floor-object.js';
import { detached, startRecording } from './lib/recording.js';
import { ensurePackages, startNginx, startRedis, type Server } from '../test/helpers/servers.js';

const KCAP = new URL('../bin/kcap.js', import.meta.url).pathname;
const runs = Number(process.argv[2] ?? 5);
const redisRequests = Number(process.argv[3] ?? 200_000);
const wrkSeconds = Number(process.argv[4] ?? 3);
const baselineKcap = process.argv[5];
const workloads = (process.env.KCAP_BENCH_WORKLOADS ?? 'redis,nginx').split(',');
const modeWords = process.env.KCAP_BENCH_MODES?.split(',');
const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled';
const CLOCK_TICK = 100; // USER_HZ: /proc/PID/stat counts CPU time in these

interface Run {
  readonly rps: number;
  readonly requests: number;
}

interface Workload {
  readonly name: string;
  readonly describe: string;
  /** Comm of the server, for the "server only" mode. */
  readonly serverComm: string;
  /** Main pid of the server (nginx's master: its workers are its children). */
  readonly serverPid: number;
  readonly serverPort: number;
  /** Runs the client once; resolves to requests/s and requests as the client reports them. */
  run(): Promise<Run>;
}

/** Runs a command to completion and returns its stdout. */
function output(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

function redisWorkload(redis: Server): Workload {
  return {
    name: 'redis',
    describe: `redis-benchmark -n ${redisRequests} -c 10 -t get,set (requests/s: mean of GET and SET)`,
    serverComm: 'redis-server',
    serverPid: redis.pid,
    serverPort: redis.port,
    async run() {
      const out = await output('redis-benchmark', ['-p', String(redis.port), '-n', String(redisRequests), '-c', '10', '-t', 'get,set', '--csv']);
      const rps = [...out.matchAll(/^"(?:SET|GET)","([\d.]+)"/gm)].map((m) => Number(m[1]));
      if (rps.length !== 2) throw new Error(`unexpected redis-benchmark output: ${out}`);
      return { rps: (rps[0]! + rps[1]!) / 2, requests: 2 * redisRequests };
    },
  };
}

function nginxWorkload(nginx: Server): Workload {
  return {
    name: 'nginx',
    describe: `wrk -t1 -c10 -d${wrkSeconds}s of a 340-byte file from nginx (1 worker)`,
    serverComm: 'nginx',
    serverPid: nginx.pid,
    serverPort: nginx.port,
    async run() {
      const out = await output('wrk', ['-t1', '-c10', `-d${wrkSeconds}s`, `http://127.0.0.1:${nginx.port}/index.html`]);
      const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const n = /(\d+) requests in/.exec(out);
      if (!m || !n) throw new Error(`unexpected wrk output: ${out}`);
      return { rps: Number(m[1]), requests: Number(n[1]) };
    },
  };
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICK;
}

/** Busy CPU seconds of the whole machine so far: user, nice, system, irq and softirq of all CPUs;
 * not idle, iowait or steal (time a neighbour of the VM took is not the workload's cost). */
function busyCpuSeconds(): number {
  const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq!) / CLOCK_TICK;
}

/** Reads a /proc file, '' once its process is gone. */
function procText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** On-CPU ns (schedstat: the scheduler's own account, not sampled at ticks) of every thread of
 * process `pid` and of its child processes. */
function treeCpuNs(pid: number): number {
  const children = readdirSync('/proc').filter((d) => /^\d+$/.test(d) && procText(`/proc/${d}/stat`).replace(/^.*\) /, '').split(' ')[1] === String(pid));
  let ns = 0;
  for (const p of [String(pid), ...children]) {
    const tasks = procText(`/proc/${p}/stat`) ? readdirSync(`/proc/${p}/task`) : [];
    for (const t of tasks) ns += Number(procText(`/proc/${p}/task/${t}/schedstat`).split(' ')[0] || 0);
  }
  return ns;
}

interface Measured extends Run {
  /** The machine's busy CPU per request, µs. */
  readonly cpuUsPerRequest: number;
  /** The server's CPU per request, µs, and its share of the run's wall time. */
  readonly serverUsPerRequest: number;
  readonly serverBusy: number;
}

/** Runs the workload once, measuring the machine's and the server's CPU. */
async function runMeasured(w: Workload): Promise<Measured> {
  const busy0 = busyCpuSeconds();
  const server0 = treeCpuNs(w.serverPid);
  const t0 = performance.now();
  const r = await w.run();
  const serverNs = treeCpuNs(w.serverPid) - server0;
  return { ...r, cpuUsPerRequest: (busyCpuSeconds() - busy0) / r.requests * 1e6,
    serverUsPerRequest: serverNs / r.requests / 1e3, serverBusy: serverNs / 1e6 / (performance.now() - t0) };
}

function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

/** Proportional set size: RSS counts each ring page twice (the kernel maps a ring's data area
 * twice, back to back, so that records wrapping its end read as one piece); PSS counts it once. */
function pssMiB(pid: number): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

interface Traced {
  rps: number;
  cpuUsPerRequest: number;
  serverUsPerRequest: number;
  serverBusy: number;
  eventsPerSec: number;
  mibPerSec: number;
  fileMibPerSec: number;
  recorderCpu: number;
  recorderRssMiB: number;
  recorderPssMiB: number;
  lost: number;
  /** ns spent in kcap's programs per recorded event (bpf_stats runs only). */
  bpfNsPerEvent: number;
  top: Array<[string, number, number]>;
}

/** A way of recording: which kcap, with which arguments. */
interface Mode {
  readonly label: string;
  readonly kcap: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Whether a bpf_stats run tells anything (not for programs that record nothing). */
  readonly stats: boolean;
}

/** Runs the workload once while `kcap record` records it into a file. */
async function traced(w: Workload, dir: string, mode: Mode, stats: boolean): Promise<Traced> {
  writeFileSync(BPF_STATS, stats ? '1' : '0');
  const file = join(dir, 'bench.kcap');
  const recording = await startRecording(mode.kcap, file, mode.args, mode.env);
  const rec = recording.child;
  const cpu0 = cpuSeconds(rec.pid!);
  const t0 = performance.now();
  const { rps, cpuUsPerRequest, serverUsPerRequest, serverBusy } = await runMeasured(w);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(rec.pid!) - cpu0;
  const rss = peakRssMiB(rec.pid!);
  const pss = pssMiB(rec.pid!);
  const progs = stats ? loadedPrograms().filter((p) => p.name.startsWith('kcap_') && p.runCount > 0) : [];
  const stderr = await recording.stop();
  const done = /wrote .*?(\d+) events .*? ([\d.]+) MB written\s+(\d+) lost/.exec(stderr);
  if (!done) throw new Error(`unexpected kcap record output: ${stderr}`);
  const events = Number(done[1]);
  const info = JSON.parse(await output(process.execPath, [KCAP, 'info', '--json', file])) as { rawBytes: number };
  const fileBytes = statSync(file).size;
  rmSync(file);
  await detached();
  const bpfNs = progs.reduce((n, p) => n + p.runTimeNs, 0);
  const top = progs.sort((a, b) => b.runTimeNs - a.runTimeNs).slice(0, 5)
    .map((p): [string, number, number] => [p.name, p.runTimeNs / p.runCount, p.runCount]);
  return { rps, cpuUsPerRequest, serverUsPerRequest, serverBusy, eventsPerSec: events / seconds, mibPerSec: info.rawBytes / seconds / 2 ** 20, fileMibPerSec: fileBytes / seconds / 2 ** 20,
    recorderCpu: cpu / seconds, recorderRssMiB: rss, recorderPssMiB: pss, lost: Number(done[3]), bpfNsPerEvent: bpfNs / events, top };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const runList = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');

/** The server's CPU per request and busy share, medians, and their runs. */
function serverLine(ms: ReadonlyArray<{ serverUsPerRequest: number; serverBusy: number }>, base?: Untraced): [string, string] {
  const us = median(ms.map((m) => m.serverUsPerRequest));
  const ratio = base ? ` (untraced/traced ${(100 * base.serverUsPerRequest / us).toFixed(1)} %)` : '';
  return [`server ${us.toFixed(1)} µs/request${ratio}, busy ${(100 * median(ms.map((m) => m.serverBusy))).toFixed(0)} %`,
    `server µs/request: ${ms.map((m) => m.serverUsPerRequest.toFixed(1)).join(', ')}`];
}

function summary(label: string, ts: Traced[], withStats: Traced | undefined, base: Untraced, baseRuns: readonly Run[]): string {
  const rps = median(ts.map((t) => t.rps));
  const cpu = median(ts.map((t) => t.cpuUsPerRequest));
  const paired = median(ts.map((t, i) => t.rps / baseRuns[i]!.rps));
  const [server, serverRuns] = serverLine(ts, base);
  return `  ${label.padEnd(32)} ${rps.toFixed(0).padStart(8)} req/s  ${(100 * rps / base.rps).toFixed(1).padStart(5)} % of untraced (paired ${(100 * paired).toFixed(1)} %)  `
    + `CPU ${cpu.toFixed(1)} µs/request (untraced/traced ${(100 * base.cpuUsPerRequest / cpu).toFixed(1)} %)  ${server}  `
    + `${median(ts.map((t) => t.eventsPerSec)).toFixed(0).padStart(7)} events/s  `
    + `${median(ts.map((t) => t.mibPerSec)).toFixed(1).padStart(5)} MiB/s (file ${median(ts.map((t) => t.fileMibPerSec)).toFixed(1)})  `
    + `recorder ${(100 * median(ts.map((t) => t.recorderCpu))).toFixed(1)} % CPU, ${median(ts.map((t) => t.recorderRssMiB)).toFixed(0)} MiB peak RSS (PSS ${median(ts.map((t) => t.recorderPssMiB)).toFixed(0)} MiB)  `
    + `lost ${ts.reduce((n, t) => n + t.lost, 0)}\n`
    + `      runs: ${runList(ts.map((t) => t.rps))}; CPU µs/request: ${ts.map((t) => t.cpuUsPerRequest.toFixed(1)).join(', ')}; ${serverRuns}`
    + (withStats ? `\n      with bpf_stats: ${withStats.bpfNsPerEvent.toFixed(0)} ns in kcap's programs per event; `
      + withStats.top.map(([name, ns, n]) => `${name} ${ns.toFixed(0)} ns × ${n}`).join(', ') : '');
}

/** Three ways of recording (all processes, the server's comm, a filter on the server's port, which
 * leaves out nginx's file I/O), for this build and the baseline; and this build with 4 MiB rings,
 * the size each CPU gets on hosts of more than 16 CPUs, where the recorder has the least room. */
function modesFor(w: Workload, floorObject: string): Mode[] {
  const builds = [['', KCAP], ...(baselineKcap ? [['baseline, ', baselineKcap]] : [])];
  const all: Mode[] = [...builds.flatMap(([prefix, kcap]) => [
    { label: `${prefix}all processes`, kcap: kcap!, args: [], stats: true },
    { label: `${prefix}--comm ${w.serverComm}`, kcap: kcap!, args: ['--comm', w.serverComm], stats: true },
    { label: `${prefix}filter fd.sport = ${w.serverPort}`, kcap: kcap!, args: ['fd.sport', '=', String(w.serverPort)], stats: true },
  ]), { label: 'all processes, -B 4M', kcap: KCAP, args: ['-B', '4M'], stats: true },
  { label: 'floor: programs return at once', kcap: KCAP, args: [], env: { KCAP_BPF_OBJECT: floorObject }, stats: false }];
  return modeWords ? all.filter((m) => modeWords.some((word) => m.label.includes(word))) : all;
}

interface Untraced {
  readonly rps: number;
  readonly cpuUsPerRequest: number;
  readonly serverUsPerRequest: number;
}

async function measure(w: Workload, dir: string, floorObject: string): Promise<string> {
  const modes = modesFor(w, floorObject);
  const base: Measured[] = [];
  const results = modes.map((): Traced[] => []);
  for (let i = 0; i < runs; i++) {
    base.push(await runMeasured(w));
    for (const [m, mode] of modes.entries()) results[m]!.push(await traced(w, dir, mode, false));
  }
  const withStats: Array<Traced | undefined> = [];
  for (const mode of modes) withStats.push(mode.stats ? await traced(w, dir, mode, true) : undefined);
  const untraced = { rps: median(base.map((b) => b.rps)), cpuUsPerRequest: median(base.map((b) => b.cpuUsPerRequest)),
    serverUsPerRequest: median(base.map((b) => b.serverUsPerRequest)) };
  const [server, serverRuns] = serverLine(base);
  return [`${w.describe}, median of ${runs} alternating runs (bpf_stats off)`,
    `  ${'untraced'.padEnd(32)} ${untraced.rps.toFixed(0).padStart(8)} req/s  CPU ${untraced.cpuUsPerRequest.toFixed(1)} µs/request  ${server}\n`
    + `      runs: ${runList(base.map((b) => b.rps))}; CPU µs/request: ${base.map((b) => b.cpuUsPerRequest.toFixed(1)).join(', ')}; ${serverRuns}`,
    ...modes.map((mode, m) => summary(mode.label, results[m]!, withStats[m], untraced, base))].join('\n');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('cannot measure: kcap record needs root');
  const missing = ensurePackages('redis-server', 'redis-tools', 'nginx', 'wrk', 'clang-14', 'llvm-14');
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), 'kcap-bench-'));
  const floorObject = buildFloorObject(dir);
  const statsWas = readFileSync(BPF_STATS, 'utf8').trim();
  const redis = await startRedis();
  const nginx = await startNginx({ 'index.html': 'hello from nginx\n'.repeat(20) });
  try {
    await detached();
    const reports: string[] = [];
    if (workloads.includes('redis')) reports.push(await measure(redisWorkload(redis), dir, floorObject));
    if (workloads.includes('nginx')) reports.push(await measure(nginxWorkload(nginx), dir, floorObject));
    console.log(`kcap recorder overhead — ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()}, node ${process.version}`);
    const only = ['KCAP_BENCH_WORKLOADS', 'KCAP_BENCH_MODES'].filter((v) => process.env[v]).map((v) => `${v}=${process.env[v]} `).join('');
    console.log(`command: ${only}npx tsx bench/recorder-overhead.bench.ts ${process.argv.slice(2).join(' ')}`);
    console.log(reports.join('\n'));
  } finally {
    writeFileSync(BPF_STATS, statsWas);
    await redis.stop();
    await nginx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
