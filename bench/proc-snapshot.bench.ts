/**
 * How long `snapshotTables` takes and how much memory it uses on this host, as is and with many
 * extra processes (sleeps spawned here, killed at the end). Prints the figures and the command.
 *
 *   npx tsx bench/proc-snapshot.bench.ts [extra-processes=500] [runs=5]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, release } from 'node:os';
import { snapshotTables, type SnapshotOptions } from '../src/record/proc/index.js';

const extra = Number(process.argv[2] ?? 500);
const runs = Number(process.argv[3] ?? 5);
const MiB = 1024 * 1024;

interface Figure {
  medianMs: number;
  threads: number;
  fds: number;
  rssGrowthMiB: number;
}

async function measure(options: SnapshotOptions): Promise<Figure> {
  const times: number[] = [];
  let counts = { threads: 0, fds: 0 };
  const rssBefore = process.memoryUsage().rss;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const tables = await snapshotTables(options);
    times.push(performance.now() - t0);
    counts = { threads: tables.threads.length, fds: tables.fds.length };
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)]!, ...counts, rssGrowthMiB: (process.memoryUsage().rss - rssBefore) / MiB };
}

function print(label: string, f: Figure): void {
  console.log(`${label.padEnd(44)} ${f.medianMs.toFixed(1).padStart(8)} ms  ${String(f.threads).padStart(6)} threads  ${String(f.fds).padStart(6)} fds  RSS +${f.rssGrowthMiB.toFixed(1)} MiB`);
}

async function spawnSleeps(n: number): Promise<ChildProcess[]> {
  const kids = Array.from({ length: n }, () => spawn('sleep', ['600'], { stdio: 'ignore' }));
  await Promise.all(kids.map((k) => new Promise((ok) => k.once('spawn', ok))));
  return kids;
}

const kids: ChildProcess[] = [];
try {
  console.log(`kcap proc snapshot bench: kernel ${release()}, ${cpus().length} CPUs, node ${process.version}, ${runs} runs, median`);
  console.log(`command: npx tsx bench/proc-snapshot.bench.ts ${extra} ${runs}`);
  print('host, all fds', await measure({}));
  print('host, fds of this process only', await measure({ pids: new Set([process.pid]) }));
  kids.push(...await spawnSleeps(extra));
  print(`host + ${extra} sleeps, all fds`, await measure({}));
  print(`host + ${extra} sleeps, fds of the sleeps`, await measure({ pids: new Set(kids.map((k) => k.pid!)) }));
  console.log(`peak RSS of the bench process: ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MiB`);
} finally {
  for (const k of kids) k.kill('SIGKILL');
}
