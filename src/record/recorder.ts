/**
 * `kcap record`: attaches the probes, snapshots the host tables, then drains the ring buffer into a
 * capture file until told to stop. Probes are attached before the snapshot so that nothing falls
 * between the two; the drain runs on a short timer because the programs never wake us per event
 * (the wakeup cost dominates tracing overhead).
 */
import { CaptureWriter } from '../capture/index.js';
import { resolveSchema } from '../schema/schema.js';
import { EVENT_SCHEMA } from '../schema/events.generated.js';
import { checkBpfSupport, clockAnchor, openProbes, type Probes } from './bpf/index.js';
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

export async function record(opts: RecordOptions): Promise<RecordResult> {
  const problem = checkBpfSupport();
  if (problem) throw new RecordError(problem);
  const command = opts.command?.length ? await startStopped(opts.command) : undefined;
  let probes: Probes | undefined;
  try {
    const pids = command ? [command.pid] : opts.pids;
    probes = openProbes({
      snaplen: opts.snaplen, selfPid: process.pid, followChildren: true,
      ...(pids ? { pids } : {}), ...(opts.comm ? { comm: opts.comm } : {}),
    });
    const writer = await openWriter(opts, pids);
    command?.resume();
    return await drainUntilStopped(opts, probes, writer, command);
  } finally {
    probes?.close();
    if (command && command.child.exitCode === null) command.child.kill('SIGTERM');
  }
}

async function openWriter(opts: RecordOptions, pids: readonly number[] | undefined): Promise<CaptureWriter> {
  const tables = await snapshotTables(pids ? { pids: new Set(pids) } : {});
  const writer = await CaptureWriter.create(opts.output, {
    schema: resolveSchema(EVENT_SCHEMA),
    machine: readMachineInfo(),
    clock: clockAnchor(),
    snaplen: opts.snaplen,
    tables,
    command: process.argv.slice(2),
  });
  return writer;
}

async function drainUntilStopped(opts: RecordOptions, probes: Probes, writer: CaptureWriter, command: TracedCommand | undefined): Promise<RecordResult> {
  const started = performance.now();
  const totals = { events: 0, bytesRaw: 0, lost: 0 };
  let reason: RecordResult['reason'] | undefined;
  let commandExit: number | undefined;
  let writeError: string | undefined;
  opts.stopSignal?.then(() => { reason ??= 'signal'; });
  command?.exited.then((code) => { commandExit = code; reason ??= 'command-exit'; });
  const deadline = opts.durationMs === undefined ? Infinity : started + opts.durationMs;
  let nextStatus = started + 1000;

  const drainOnce = (): void => {
    for (let batch = probes.drain(DRAIN_BATCH_BYTES); batch; batch = probes.drain(DRAIN_BATCH_BYTES)) {
      totals.bytesRaw += batch.length;
      totals.events += writer.append(batch);
    }
    const lost = probes.lostPerCpu().reduce((a, b) => a + b, 0);
    if (lost > totals.lost) writer.noteLost(lost - totals.lost);
    totals.lost = lost;
  };

  while (reason === undefined) {
    await new Promise((r) => setTimeout(r, DRAIN_INTERVAL_MS));
    try {
      drainOnce();
    } catch (e) {
      writeError = (e as Error).message;
      reason = 'write-error';
      break;
    }
    const now = performance.now();
    if (now >= deadline) reason ??= 'duration';
    if (now >= nextStatus && opts.onStatus) {
      nextStatus = now + 1000;
      opts.onStatus({ elapsedMs: now - started, ...totals, bytesWritten: writer.bytesWritten });
    }
  }
  // The command's last events may still be in the ring: one more drain after it stopped.
  if (reason !== 'write-error') drainOnce();
  await writer.close({ lostPerCpu: probes.lostPerCpu(), events: totals.events });
  return {
    reason, elapsedMs: performance.now() - started, ...totals, bytesWritten: writer.bytesWritten,
    ...(commandExit !== undefined ? { commandExit } : {}), ...(writeError ? { writeError } : {}),
  };
}
