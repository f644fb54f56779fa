/**
 * `kcap record`: attaches the probes, snapshots the host tables, then drains the ring buffer into a
 * capture file until told to stop. Probes are attached before the snapshot so that nothing falls
 * between the two; the drain runs on a timer paced by the event rate (pacing.ts) because the
 * programs never wake us per event (the wakeup cost dominates tracing overhead).
 */
import { CaptureError, CaptureWriter, recordSummary, summaryRange } from '../capture/index.js';
import type { RawChunk, SourceInfo } from '../capture/source.js';
import type { Tables } from '../capture/tables.js';
import type { KEvent } from '../probe/event.js';
import { EVENT_SCHEMA } from '../schema/events.generated.js';
import { resolveSchema } from '../schema/schema.js';
import { BpfError, checkBpfSupport, clockAnchor, MAX_RECORD_BYTES, openProbes, possibleCpus, type IoKeep, type ListenPort, type Probes } from './bpf/index.js';
import { pidsInContainer, processTree, readMachineInfo, snapshotTables } from './proc/index.js';
import { drainIntervalMs } from './pacing.js';
import { yieldCpu } from './priority.js';
import { RecordSelector } from './select.js';
import { startStopped, type TracedCommand } from './target.js';

export interface RecordOptions {
  readonly output: string;
  /** Stop after this many ms; undefined = until signal or command exit. */
  readonly durationMs?: number;
  readonly snaplen: number;
  /** Ring buffer bytes per CPU (default: see ProbeOptions.ringBytes). */
  readonly ringBytes?: number;
  readonly pids?: readonly number[];
  readonly comm?: string;
  /** Trace the processes of this container (id or unique prefix) and their children. */
  readonly container?: string;
  /** Keep only I/O and TCP events this selects (state-changing events are always kept). */
  readonly filter?: (ev: KEvent) => boolean;
  /** What the I/O events `filter` selects need: the programs drop the others before copying
   * their payload (src/filter/pushdown.ts). */
  readonly ioKeep?: IoKeep;
  /** Trace this command and its children; stop when it exits. */
  readonly command?: readonly string[];
  /** Load this BPF object instead of the packaged one (KCAP_BPF_OBJECT). */
  readonly bpfObject?: string;
  /** Called about once a second with running totals (the CLI draws a status line). */
  readonly onStatus?: (s: RecordStatus) => void;
  /** Resolves when the user asks to stop (SIGINT/SIGTERM). */
  readonly stopSignal?: Promise<void>;
  /** Live consumers: told what the file says before its first event, then every batch as written,
   * as a chunk in the file's order with the kernel's losses since the previous one. */
  readonly onStart?: (info: SourceInfo) => void;
  /** Called once the probes are attached and the file is open: events from now on are recorded. */
  readonly onReady?: (attached: number) => void;
  readonly onChunk?: (chunk: RawChunk) => void;
}

export interface RecordStatus {
  readonly elapsedMs: number;
  readonly events: number;
  readonly bytesRaw: number;
  readonly bytesWritten: number;
  readonly lost: number;
}

export interface RecordResult extends RecordStatus {
  readonly commandExit?: number;
  /** Why recording stopped. */
  readonly reason: 'duration' | 'signal' | 'command-exit' | 'write-error';
  readonly writeError?: string;
}

export class RecordError extends Error {
  override readonly name = 'RecordError';
}

/** zstd level of recorded chunks: level 1 writes about 1.3x faster than 3 on event data (bench/
 * capture.bench.ts) for files about 6% larger, and the recorder shares the CPU with what it traces. */
export const RECORD_ZSTD_LEVEL = 1;
const LOST_CHECK_INTERVAL_MS = 1000;
/** A STATS block this often, so a recording killed outright still says what it had counted. */
const STATS_INTERVAL_MS = 10_000;

export async function record(opts: RecordOptions): Promise<RecordResult> {
  const support = checkBpfSupport();
  if (!support.ok) throw new RecordError(`cannot record: ${support.reason}`);
  let command: TracedCommand | undefined;
  let probes: Probes | undefined;
  try {
    const pids = targetPids(opts);
    command = opts.command?.length ? await startStopped(opts.command) : undefined;
    if (command) pids.push(command.pid);
    probes = openProbes({
      snaplen: opts.snaplen, selfPid: process.pid, followChildren: true,
      ...(opts.ringBytes !== undefined ? { ringBytes: opts.ringBytes } : {}),
      ...(pids.length ? { pids } : {}), ...(opts.comm ? { comm: opts.comm } : {}),
      ...(opts.bpfObject ? { objectPath: opts.bpfObject } : {}),
      ...(opts.ioKeep ? { ioKeep: opts.ioKeep } : {}),
    });
    const info = await sourceInfo(opts, pids.length ? pids : undefined);
    // Before the file exists, so that nothing a caller starts once it sees the file is missed.
    if (pids.length || opts.comm) probes.addListenPorts(listenPorts(info.tables, opts.comm));
    const writer = openWriter(opts, info);
    opts.onReady?.(probes.stats().attached);
    command?.resume();
    const selector = opts.filter ? new RecordSelector(info, opts.filter) : undefined;
    return await new DrainLoop(opts, probes, writer, command, selector).run();
  } catch (e) {
    if (e instanceof BpfError || e instanceof CaptureError) throw new RecordError(e.message);
    throw e;
  } finally {
    probes?.close();
    command?.stop();
  }
}

/** The processes to trace from -p and --container; empty means every process. */
function targetPids(opts: RecordOptions): number[] {
  const pids = (opts.pids ?? []).flatMap((pid) => processTree(pid));
  if (opts.container !== undefined) {
    const members = pidsInContainer(opts.container);
    if (members.length === 0) throw new RecordError(`no running process belongs to a container whose id starts with '${opts.container}'`);
    pids.push(...members);
  }
  return pids;
}

/** TCP ports the traced processes of the start tables listen on, each in its network namespace:
 * the tables hold only traced processes under a pid filter, every process under a comm filter. */
function listenPorts(tables: Tables, comm: string | undefined): ListenPort[] {
  const netNs = new Map(tables.threads.filter((t) => comm === undefined || t.comm === comm).map((t) => [t.pid, t.netNs]));
  const ports = new Map<string, ListenPort>();
  for (const f of tables.fds) {
    const ns = netNs.get(f.pid);
    if (f.l4proto === 'tcp' && f.state === 'LISTEN' && f.lport && ns !== undefined) ports.set(`${ns}:${f.lport}`, { netNs: ns, port: f.lport });
  }
  return [...ports.values()];
}

async function sourceInfo(opts: RecordOptions, pids: readonly number[] | undefined): Promise<SourceInfo> {
  const tables = await snapshotTables(pids ? { pids: new Set(pids) } : {});
  return { schema: resolveSchema(EVENT_SCHEMA), machine: readMachineInfo(), clock: clockAnchor(), snaplen: opts.snaplen, tables };
}

function openWriter(opts: RecordOptions, info: SourceInfo): CaptureWriter {
  const writer = CaptureWriter.create(opts.output, { ...info, schema: EVENT_SCHEMA, command: process.argv.slice(2), level: RECORD_ZSTD_LEVEL });
  opts.onStart?.(info);
  return writer;
}

class DrainLoop {
  private readonly started = performance.now();
  private events = 0;
  private bytesRaw = 0;
  /** Bytes taken from the rings, before any selection: what paces the drain. */
  private fromRings = 0;
  private lostSeen: number[] = [];
  private nextLostCheck = 0;
  private readonly summary = recordSummary(possibleCpus());
  /** Losses not yet passed to a live consumer with a batch. */
  private liveLost = 0;
  private liveSeq = 0;
  private reason: RecordResult['reason'] | undefined;
  private commandExit: number | undefined;
  private writeError: string | undefined;

  constructor(private readonly opts: RecordOptions, private readonly probes: Probes,
    private readonly writer: CaptureWriter, command: TracedCommand | undefined,
    private readonly selector: RecordSelector | undefined) {
    yieldCpu(probes);
    opts.stopSignal?.then(() => { this.reason ??= 'signal'; this.wake(); });
    command?.exited.then((code) => { this.commandExit = code; this.reason ??= 'command-exit'; this.wake(); });
  }

  /** Ends the wait for the next drain turn early (a stop needs no turn to wait for). */
  private wake: () => void = () => undefined;

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => { clearTimeout(timer); resolve(); };
    });
  }

  async run(): Promise<RecordResult> {
    const deadline = this.opts.durationMs === undefined ? Infinity : this.started + this.opts.durationMs;
    let nextStatus = this.started + 1000;
    let nextStats = this.started + STATS_INTERVAL_MS;
    let lastTurn = this.started;
    let waitMs = drainIntervalMs(this.probes.ringBytes, 0);
    while (this.reason === undefined) {
      await this.sleep(Math.max(0, Math.min(waitMs, deadline - performance.now())));
      const now = performance.now();
      if (now >= deadline) this.reason ??= 'duration';
      const drainedBefore = this.fromRings;
      if (!this.guarded(() => this.drainOnce())) break;
      waitMs = drainIntervalMs(this.probes.ringBytes, (this.fromRings - drainedBefore) / Math.max(now - lastTurn, 1));
      lastTurn = now;
      if (now >= nextStats) {
        nextStats = now + STATS_INTERVAL_MS;
        if (!this.guarded(() => this.writer.writeStats())) break;
      }
      if (now >= nextStatus && this.opts.onStatus) {
        nextStatus = now + 1000;
        this.opts.onStatus(this.status());
      }
    }
    // A last drain: the command's final events may still be in the ring, and its final losses.
    if (this.reason !== 'write-error') this.guarded(() => this.drainOnce(true));
    this.finish();
    return {
      ...this.status(), reason: this.reason ?? 'write-error',
      ...(this.commandExit !== undefined ? { commandExit: this.commandExit } : {}),
      ...(this.writeError ? { writeError: this.writeError } : {}),
    };
  }

  private drainOnce(final = false): void {
    // Losses are noted before the batch, as the file does: they attach to the next chunk. The
    // ring drops records only when full, and only this loop empties it, so a ring under half full
    // has dropped nothing since the last turn: the counters (a syscall) are read only then, and
    // once a second for the rare losses of programs nested too deep.
    const now = performance.now();
    if (final || now >= this.nextLostCheck || this.probes.pendingBytes() >= this.probes.ringBytes / 2) {
      this.nextLostCheck = now + LOST_CHECK_INTERVAL_MS;
      this.noteLosses();
    }
    for (let batch = this.nextBatch(); batch; batch = this.nextBatch()) {
      if (batch.length === 0) continue;
      this.bytesRaw += batch.length;
      this.opts.onChunk?.({ seq: this.liveSeq++, records: batch, ...summaryRange(this.summary), lostBefore: this.liveLost });
      this.liveLost = 0;
    }
  }

  private noteLosses(): void {
    this.probes.lostPerCpu().forEach((lost, cpu) => {
      const delta = lost - (this.lostSeen[cpu] ?? 0);
      if (delta > 0) this.writer.noteLost(delta, cpu);
      if (delta > 0) this.liveLost += delta;
      this.lostSeen[cpu] = lost;
    });
  }

  /**
   * Drains one batch into the writer and returns it (empty when the filter kept nothing), or null
   * when the ring is empty. Batches are drained straight into the chunk being built, sized to it,
   * with a summary from the drain, so no record is walked in JS unless a filter selects them.
   */
  private nextBatch(): Uint8Array | null {
    const room = this.writer.chunkRoom();
    const tail = this.writer.tail(room + MAX_RECORD_BYTES);
    const n = this.probes.drainInto(tail, room, this.summary);
    if (n === 0) return null;
    this.fromRings += n;
    const kept = this.selector ? this.selector.compact(tail.subarray(0, n), this.summary) : n;
    // A live consumer gets its own copy, as the chunk's buffer is reused once written.
    const batch = this.opts.onChunk ? tail.slice(0, kept) : tail.subarray(0, kept);
    this.events += this.summary[0]!;
    this.writer.commitSummarized(kept, this.summary);
    return batch;
  }

  /** Runs a write step; a write failure (disk full, I/O error) ends recording, keeping what was written. */
  private guarded(step: () => void): boolean {
    try {
      step();
      return true;
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e;
      this.writeError = e.message;
      this.reason = 'write-error';
      return false;
    }
  }

  private finish(): void {
    try {
      this.writer.close();
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e;
      this.writeError ??= e.message;
    }
  }

  private status(): RecordStatus {
    return {
      elapsedMs: performance.now() - this.started, events: this.events, bytesRaw: this.bytesRaw,
      bytesWritten: this.writer.bytesWritten, lost: this.lostSeen.reduce((a, b) => a + b, 0),
    };
  }
}
