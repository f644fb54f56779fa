/**
 * `kcap record`: attaches the probes, snapshots the host tables, then drains the ring buffer into a
 * capture file until told to stop. Probes are attached before the snapshot so that nothing falls
 * between the two; the drain runs on a short timer because the programs never wake us per event
 * (the wakeup cost dominates tracing overhead).
 */
import { CaptureError, CaptureWriter } from '../capture/index.js';
import { BpfError, checkBpfSupport, clockAnchor, openProbes, type Probes } from './bpf/index.js';
import { readMachineInfo, snapshotTables } from './proc/index.js';
import { startStopped, type TracedCommand } from './target.js';

export interface RecordOptions {
  readonly output: string;
  /** Stop after this many ms; undefined = until signal or command exit. */
  readonly durationMs?: number;
  readonly snaplen: number;
  readonly pids?: readonly number[];
  readonly comm?: string;
  /** Trace this command and its children; stop when it exits. */
  readonly command?: readonly string[];
  /** Called about once a second with running totals (the CLI draws a status line). */
  readonly onStatus?: (s: RecordStatus) => void;
  /** Resolves when the user asks to stop (SIGINT/SIGTERM). */
  readonly stopSignal?: Promise<void>;
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

const DRAIN_INTERVAL_MS = 4;
const DRAIN_BATCH_BYTES = 8 << 20;
/** A STATS block this often, so a recording killed outright still says what it had counted. */
const STATS_INTERVAL_MS = 10_000;

export async function record(opts: RecordOptions): Promise<RecordResult> {
  const support = checkBpfSupport();
  if (!support.ok) throw new RecordError(`cannot record: ${support.reason}`);
  let command: TracedCommand | undefined;
  let probes: Probes | undefined;
  try {
    command = opts.command?.length ? await startStopped(opts.command) : undefined;
    // -p PID with a command traces both (e.g. a server and the client run under kcap).
    const pids = command ? [command.pid, ...(opts.pids ?? [])] : opts.pids;
    probes = openProbes({
      snaplen: opts.snaplen, selfPid: process.pid, followChildren: true,
      ...(pids ? { pids } : {}), ...(opts.comm ? { comm: opts.comm } : {}),
    });
    const writer = await openWriter(opts, pids);
    command?.resume();
    return await new DrainLoop(opts, probes, writer, command).run();
  } catch (e) {
    if (e instanceof BpfError || e instanceof CaptureError) throw new RecordError(e.message);
    throw e;
  } finally {
    probes?.close();
    if (command && command.child.exitCode === null) command.child.kill('SIGTERM');
  }
}

async function openWriter(opts: RecordOptions, pids: readonly number[] | undefined): Promise<CaptureWriter> {
  const tables = await snapshotTables(pids ? { pids: new Set(pids) } : {});
  return CaptureWriter.create(opts.output, {
    machine: readMachineInfo(), clock: clockAnchor(), snaplen: opts.snaplen, tables, command: process.argv.slice(2),
  });
}

/** Number of whole records in a drained batch (each starts with its u32 length). */
function countRecords(batch: Buffer): number {
  let n = 0;
  for (let off = 0; off + 4 <= batch.length; n++) {
    const len = batch.readUInt32LE(off);
    if (len === 0) break;
    off += len;
  }
  return n;
}

class DrainLoop {
  private readonly started = performance.now();
  private events = 0;
  private bytesRaw = 0;
  private lostSeen: number[] = [];
  private reason: RecordResult['reason'] | undefined;
  private commandExit: number | undefined;
  private writeError: string | undefined;

  constructor(private readonly opts: RecordOptions, private readonly probes: Probes,
    private readonly writer: CaptureWriter, command: TracedCommand | undefined) {
    opts.stopSignal?.then(() => { this.reason ??= 'signal'; });
    command?.exited.then((code) => { this.commandExit = code; this.reason ??= 'command-exit'; });
  }

  async run(): Promise<RecordResult> {
    const deadline = this.opts.durationMs === undefined ? Infinity : this.started + this.opts.durationMs;
    let nextStatus = this.started + 1000;
    let nextStats = this.started + STATS_INTERVAL_MS;
    while (this.reason === undefined) {
      await new Promise((r) => setTimeout(r, DRAIN_INTERVAL_MS));
      const now = performance.now();
      if (now >= deadline) this.reason ??= 'duration';
      // Drain even on the last turn: the command's final events may still be in the ring.
      if (!this.guarded(() => this.drainOnce())) break;
      if (now >= nextStats) {
        nextStats = now + STATS_INTERVAL_MS;
        if (!this.guarded(() => this.writer.writeStats())) break;
      }
      if (now >= nextStatus && this.opts.onStatus) {
        nextStatus = now + 1000;
        this.opts.onStatus(this.status());
      }
    }
    if (this.reason === 'signal' || this.reason === 'command-exit') this.guarded(() => this.drainOnce());
    this.finish();
    return {
      ...this.status(), reason: this.reason ?? 'write-error',
      ...(this.commandExit !== undefined ? { commandExit: this.commandExit } : {}),
      ...(this.writeError ? { writeError: this.writeError } : {}),
    };
  }

  private drainOnce(): void {
    for (let batch = this.probes.drain(DRAIN_BATCH_BYTES); batch; batch = this.probes.drain(DRAIN_BATCH_BYTES)) {
      this.bytesRaw += batch.length;
      this.events += countRecords(batch);
      this.writer.append(batch);
    }
    this.probes.lostPerCpu().forEach((lost, cpu) => {
      const delta = lost - (this.lostSeen[cpu] ?? 0);
      if (delta > 0) this.writer.noteLost(delta, cpu);
      this.lostSeen[cpu] = lost;
    });
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
