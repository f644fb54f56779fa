/**
 * What a recorder costs a host with little to record: `kcap record` of all processes on an idle
 * machine, measured after it is ready. Prints the recorder's time on a CPU (the scheduler's own
 * account, /proc/PID/task/TID/schedstat, all threads; not the tick-sampled /proc/PID/stat, which
 * misses short wakeups) as a share of one CPU, and its context switches per second: a recorder
 * polls its rings, and on a VM each wakeup costs about 0.1 ms.
 *
 * With a baseline (the bin/kcap.js of another checkout, built), its runs alternate with this
 * build's.
 *
 *   npx tsx bench/recorder-idle.bench.ts [runs=3] [seconds=10] [baseline/bin/kcap.js]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { detached, startRecording } from './lib/recording.js';

const KCAP = new URL('../bin/kcap.js', import.meta.url).pathname;
const runs = Number(process.argv[2] ?? 3);
const seconds = Number(process.argv[3] ?? 10);
const baselineKcap = process.argv[4];

interface Usage {
  /** ns on a CPU, all threads */
  readonly cpuNs: number;
  /** voluntary and involuntary context switches, all threads */
  readonly switches: number;
}

/** Sums the threads of `pid` (a thread gone between listing and reading counts nothing). */
function usage(pid: number): Usage {
  let cpuNs = 0;
  let switches = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      cpuNs += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)) switches += Number(m[1]);
    } catch {
      // exited meanwhile
    }
  }
  return { cpuNs, switches };
}

interface Idle {
  readonly cpuPercent: number;
  readonly switchesPerSec: number;
}

async function idleRun(kcap: string, dir: string): Promise<Idle> {
  const recording = await startRecording(kcap, join(dir, 'idle.kcap'), []);
  const pid = recording.child.pid!;
  await new Promise((r) => setTimeout(r, 1000)); // past the start's one-off work
  const a = usage(pid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const b = usage(pid);
  await recording.stop();
  await detached();
  return { cpuPercent: (b.cpuNs - a.cpuNs) / (seconds * 1e7), switchesPerSec: (b.switches - a.switches) / seconds };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function line(label: string, rs: Idle[]): string {
  const cpu = rs.map((r) => r.cpuPercent);
  const sw = rs.map((r) => r.switchesPerSec);
  return `  ${label.padEnd(10)} ${median(cpu).toFixed(2)} % of a CPU, ${median(sw).toFixed(0)} context switches/s` +
    `   (runs: ${cpu.map((c) => c.toFixed(2)).join(', ')} %)`;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('cannot measure: kcap record needs root');
  const dir = mkdtempSync(join(tmpdir(), 'kcap-idle-'));
  try {
    await detached();
    const mine: Idle[] = [];
    const base: Idle[] = [];
    for (let i = 0; i < runs; i++) {
      mine.push(await idleRun(KCAP, dir));
      if (baselineKcap) base.push(await idleRun(baselineKcap, dir));
    }
    console.log(`kcap idle recorder — ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()}, node ${process.version}`);
    console.log(`command: npx tsx bench/recorder-idle.bench.ts ${process.argv.slice(2).join(' ')}`);
    console.log(`kcap record of all processes, ${seconds} s after it is ready, median of ${runs} runs`);
    console.log(line('this build', mine));
    if (baselineKcap) console.log(line('baseline', base));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
