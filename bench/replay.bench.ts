/**
 * Replay throughput and memory: events per second through framing + conversion + state (and
 * optionally a filter and a visitor touching the payload) on one core, and RSS as the replayed
 * length grows. The load is the capture package's deterministic synthetic mix (HTTP/Redis I/O on
 * loopback sockets, accepts, connects, closes, opens, TCP state changes, forks, execs). A pool of
 * distinct chunks is generated once and replayed round-robin until the target count, so the
 * timing covers replay only, and memory that grew with the replayed length would show up as
 * rising RSS at the checkpoints.
 *
 * It measures the compiled JavaScript that bin/kcap runs (dist/, rebuilt with tsc first), not the
 * TypeScript as tsx transpiles it on the fly, which runs this code about half as fast. Besides
 * wall time it reports process CPU time, the steadier figure on a machine shared with others.
 *
 *   taskset -c 0 npx tsx bench/replay.bench.ts [--events 10000000] [--pool 400000]
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import type { ClockAnchor, EventSource, RawChunk } from '../dist/capture/source.js';
import type { ReplayOptions, Visitor } from '../dist/probe/index.js';

// Build dist/ from the current sources, then load the modules under test from it.
const root = new URL('..', import.meta.url).pathname;
execFileSync(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
const { SyntheticLoad } = await import('../dist/capture/synthetic.js');
const { compileFilter } = await import('../dist/filter/index.js');
const { Replayer } = await import('../dist/probe/index.js');
const { RecordDecoder } = await import('../dist/schema/decode.js');
const { EVENT_SCHEMA } = await import('../dist/schema/events.generated.js');
const { resolveSchema } = await import('../dist/schema/schema.js');

const { values } = parseArgs({ options: { events: { type: 'string', default: '10000000' }, pool: { type: 'string', default: '400000' } } });
const TARGET = Number(values.events);
const POOL = Number(values.pool);
const PER_CHUNK = 8192;

const schema = resolveSchema(EVENT_SCHEMA);
const clock: ClockAnchor = { bootNs: 0n, realtimeNs: 1_700_000_000_000_000_000n };
const info: Omit<EventSource, 'chunks'> = {
  schema, clock, snaplen: 256,
  machine: { hostname: 'bench', kernelRelease: '', kernelVersion: '', arch: process.arch, cpus: 1, memoryBytes: 0, bootId: '' },
  tables: { threads: [], fds: [], containers: [], users: [], groups: [], interfaces: [] },
};

function makePool(): RawChunk[] {
  const load = new SyntheticLoad(schema, 7);
  const chunks: RawChunk[] = [];
  for (let made = 0; made < POOL; made += PER_CHUNK) {
    chunks.push({ seq: chunks.length, records: load.batch(PER_CHUNK), count: PER_CHUNK, firstTs: 0n, lastTs: 0n, lostBefore: 0 });
  }
  return chunks;
}

interface Result {
  name: string;
  events: number;
  seconds: number;
  cpuSeconds: number;
  selected: number;
  rssMiB: number[];
}

const mib = (n: number) => Math.round(n / (1 << 20));

function cpuSince(c0: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

function run(name: string, pool: RawChunk[], opts: ReplayOptions, visit: Visitor): Result {
  const r = new Replayer(info as EventSource, opts);
  const checkpoints = [0.1, 0.25, 0.5, 1].map((f) => Math.floor(TARGET * f));
  const rssMiB: number[] = [];
  let done = 0;
  let i = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  while (done < TARGET) {
    const chunk = pool[i++ % pool.length]!;
    r.chunk(chunk, visit);
    done += chunk.count;
    if (done >= checkpoints[rssMiB.length]!) rssMiB.push(mib(process.memoryUsage().rss));
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuSeconds = cpuSince(c0);
  if (r.stats.malformed !== 0) throw new Error(`bench load has malformed records: ${r.stats.problems[0]}`);
  return { name, events: r.stats.records, seconds, cpuSeconds, selected: r.stats.selected, rssMiB };
}

/** The generic per-record object decoder, for comparison. */
function runGenericDecoder(pool: RawChunk[]): Result {
  const dec = new RecordDecoder(schema);
  const target = Math.min(TARGET, 2_000_000);
  let done = 0;
  let i = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  while (done < target) {
    const c = pool[i++ % pool.length]!;
    for (let off = 0; off < c.records.length;) {
      off += dec.decode(c.records, off).length;
      done++;
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { name: 'generic RecordDecoder.decode (baseline, no state)', events: done, seconds, cpuSeconds: cpuSince(c0), selected: done, rssMiB: [] };
}

function main(): void {
  const pool = makePool();
  let payloadBytes = 0;
  let genSum = 0;
  const results = [
    run('frame + convert + state', pool, {}, () => {}),
    run('frame + convert + state + filter', pool, { filter: compileFilter('evt.is_io = true and fd.sport = 8080 and evt.latency > 50000') }, () => {}),
    run('frame + convert + state + filter + visitor reads payload and fd gen', pool, { filter: compileFilter('fd.l4proto = tcp') }, (ev) => {
      payloadBytes += ev.payload.length;
      genSum += ev.fd?.gen ?? 0;
    }),
    // Last, so the garbage it makes does not land in the timings above.
    runGenericDecoder(pool),
  ];
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  console.log(`# replay bench\n\nnode ${process.version}, ${cpu}, ${cpus().length} cpus, ${mib(totalmem())} MiB RAM`);
  console.log(`command: npx tsx bench/replay.bench.ts --events ${TARGET} --pool ${POOL}`);
  const poolMiB = mib(pool.reduce((n, c) => n + c.records.length, 0));
  console.log(`pool: ${pool.length} chunks x ${PER_CHUNK} distinct synthetic records (${poolMiB} MiB raw, held throughout), replayed round-robin to ${TARGET} events\n`);
  console.log('| pipeline | events | wall s | events/s (wall) | CPU s | events/CPU-s | selected | RSS MiB at 10/25/50/100% |');
  console.log('|---|---|---|---|---|---|---|---|');
  const rate = (n: number, s: number) => Math.round(n / s).toLocaleString('en-US');
  for (const r of results) {
    console.log(`| ${r.name} | ${r.events} | ${r.seconds.toFixed(2)} | ${rate(r.events, r.seconds)} | ${r.cpuSeconds.toFixed(2)} | ${rate(r.events, r.cpuSeconds)} | ${r.selected} | ${r.rssMiB.join(' / ')} |`);
  }
  console.log(`\npeak RSS (maxRSS): ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB; payload bytes seen by the visitor: ${payloadBytes}, sum of fd generations: ${genSum}`);
}

main();
