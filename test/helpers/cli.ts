/**
 * The kcap CLI as a user runs it, in a separate process: any command, recordings of a client
 * command (optionally with server processes traced too) or of everything while some work runs,
 * the analyze report as JSON and tallies of it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { AnalysisResult } from '../../src/analyze/analyze.js';
import type { RequestRow } from '../../src/report/requests.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'src/cli/main.ts');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Past this a kcap run is stopped with SIGTERM (a recording then ends and stops its command),
 * before vitest's own 60 s test timeout would leave it running. */
const KCAP_TIMEOUT_MS = 50_000;

/** Runs `kcap ARGS` from the sources in a child process; never throws on a non-zero exit. */
export function kcap(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: KCAP_TIMEOUT_MS, killSignal: 'SIGTERM' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

export interface RecordOptions {
  /** Processes to trace besides the command (server processes, for a both-ends recording). */
  readonly pids?: readonly number[];
  /** Exit codes of the client that are expected (default only 0). */
  readonly okCodes?: readonly number[];
  /** Payload bytes kept per I/O event (`--snaplen`); the recorder's default otherwise. */
  readonly snaplen?: number;
}

/** `kcap record -o FILE [-p PID]... -- COMMAND...`; the command's own stdout (kcap passes its
 * stdio through). Throws when recording fails or the client exits with an unexpected code. */
export async function recordCommand(file: string, command: readonly string[], o: RecordOptions = {}): Promise<string> {
  const pidArgs = (o.pids ?? []).flatMap((p) => ['-p', String(p)]);
  const snapArgs = o.snaplen === undefined ? [] : ['--snaplen', String(o.snaplen)];
  const r = await kcap(['record', '-o', file, ...pidArgs, ...snapArgs, '--', ...command]);
  if (!(o.okCodes ?? [0]).includes(r.code ?? -1) || !/kcap: wrote /.test(r.stderr)) {
    throw new Error(`kcap record -- ${command.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  }
  return r.stdout;
}

/** Records every process (or as `extra` options say) while `work` runs: `kcap record -o FILE -d LIMIT` is started,
 * `work` begins once it says it is recording (probes attached, filters seeded, file created), and
 * the recording is stopped with SIGINT when `work` is done. */
export async function recordWhile<T>(file: string, work: () => Promise<T>, limitSeconds = 30, extra: readonly string[] = []): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'record', '-o', file, '-d', `${limitSeconds}s`, ...extra],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  try {
    const until = Date.now() + 20_000;
    while (!stderr.includes('kcap: recording to')) {
      if (child.exitCode !== null || Date.now() > until) throw new Error(`kcap record did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return await work();
  } finally {
    child.kill('SIGINT');
    const code = await exited;
    if (code !== 0) throw new Error(`kcap record exited ${code}: ${stderr}`);
  }
}

/** `kcap analyze FILE --json` parsed. */
export async function analyzeJson(file: string, extra: readonly string[] = []): Promise<AnalysisResult> {
  const r = await kcap(['analyze', file, '--json', ...extra]);
  if (r.code !== 0) throw new Error(`kcap analyze ${file} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as AnalysisResult;
}

/** Operation → request count over all endpoints of one protocol. */
export function countByOperation(r: AnalysisResult, protocol: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of r.endpoints) if (e.protocol === protocol) out[e.operation] = (out[e.operation] ?? 0) + e.count;
  return out;
}

/** Status → count over all endpoints of one protocol. */
export function countByStatus(r: AnalysisResult, protocol: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of r.endpoints) {
    if (e.protocol !== protocol) continue;
    for (const s of e.statuses) out[s.status] = (out[s.status] ?? 0) + s.count;
  }
  return out;
}

/** `kcap requests FILE [FILTER…] --json`, one row per request. */
export async function requestRows(file: string, extra: readonly string[] = []): Promise<RequestRow[]> {
  const r = await kcap(['requests', file, ...extra, '--json']);
  if (r.code !== 0) throw new Error(`kcap requests ${file} exited ${r.code}: ${r.stderr}`);
  return r.stdout === '' ? [] : r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as RequestRow);
}
