/**
 * Argument parsers shared by several commands, so every command reads a filter or a duration
 * the same way and reports a bad one the same way.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { CaptureError, openCapture } from '../capture/index.js';
import type { AnalysisSpec, TimePoint } from '../analyze/analyze.js';
import { compileSpec } from '../analyze/spec.js';
import {
  FilterError, compileNode, eventFilter, type EventField, type FilterNode, type Predicate, protocolName,
} from '../filter/index.js';
import { PROTOCOLS } from '../protocols/index.js';
import { UserError } from './errors.js';

/** `parse(filter)`, with a bad filter as a usage error (exit 2) that points at the column. */
function parsed<T>(words: readonly string[], parse: (src: string) => T): T {
  try {
    return parse(words.join(' '));
  } catch (err) {
    if (err instanceof FilterError) throw new UserError(`${err.message}\n${err.pointer()}`, 2);
    throw err;
  }
}

/** The event filter given as trailing words, parsed, or undefined when none. */
export function filterTreeOf(words: readonly string[]): FilterNode<EventField> | undefined {
  return words.length === 0 ? undefined : parsed(words, eventFilter);
}

/** The filter given as trailing words, compiled; see filterTreeOf. */
export function filterOf(words: readonly string[]): Predicate | undefined {
  const tree = filterTreeOf(words);
  return tree && compileNode(tree);
}

/** What selects requests in the commands that analyze: `-P`, `--from`, `--to` (and the filter),
 * and how many worker threads do it. */
export interface SelectionFlags {
  readonly protocol?: readonly string[];
  readonly from?: TimePoint;
  readonly to?: TimePoint;
  readonly jobs?: number;
}

/** Adds the options of SelectionFlags to a command. */
export function selectionOptions(cmd: Command): Command {
  return cmd
    // One value per -P (repeat it, or separate names by commas): a variadic option would take the filter after it too.
    .option('-P, --protocol <names>', `only these protocols, comma-separated or -P repeated (${PROTOCOLS.map((p) => p.name).join(', ')})`,
      (v: string, prev: string[] = []) => [...prev, v])
    .option('--from <time>', 'only requests starting from this time: after the first event (5s) or UTC (2026-11-22T00:11:12Z)', parseTimePoint)
    .option('--to <time>', 'only requests starting before this time, in the same forms', parseTimePoint)
    .option('-j, --jobs <n>', 'threads (the output is the same for every number; default: one per core, fewer for a capture under 256 MiB raw a thread)', parsePositive);
}

/** -P values (repeated or comma-separated), each a protocol's name or its field prefix (http). */
function protocolsOf(values: readonly string[] | undefined): string[] | undefined {
  if (!values) return undefined;
  const names = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  return names.map((n) => {
    const name = protocolName(n);
    if (name === undefined) throw new UserError(`--protocol: unknown protocol '${n}' (known: ${PROTOCOLS.map((p) => p.name).join(', ')})`, 2);
    return name;
  });
}

/** What the filter words and selection flags ask for, as a spec worker threads can take; a bad
 * filter or protocol is a usage error here, before any thread starts. */
export function selectionOf(words: readonly string[], flags: SelectionFlags): AnalysisSpec {
  const protocols = protocolsOf(flags.protocol);
  const spec: AnalysisSpec = {
    ...(words.length ? { filter: words.join(' ') } : {}), ...(protocols ? { protocols } : {}),
    ...(flags.from !== undefined ? { from: flags.from } : {}), ...(flags.to !== undefined ? { to: flags.to } : {}),
  };
  parsed(words, () => compileSpec(spec));
  return spec;
}

/** "10s", "500ms", "2m", "1h", "250us" or plain seconds → ns. */
export function parseDurationNs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new InvalidArgumentError('expected a duration such as 10s, 500ms, 2m');
  const unit = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 }[m[2] ?? 's']!;
  return Math.round(Number(m[1]) * unit);
}

/** "5s" (after the capture's first event) or an ISO-8601 UTC time such as 2026-11-22T00:11:12.5Z. */
export function parseTimePoint(text: string): TimePoint {
  const iso = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(text.trim());
  if (!iso) return { afterStartNs: parseDurationNs(text) };
  const ms = Date.parse(`${iso[1]}Z`);
  if (Number.isNaN(ms)) throw new InvalidArgumentError('not a valid UTC time');
  return { utcNs: BigInt(ms) * 1_000_000n + BigInt((iso[2] ?? '').padEnd(9, '0')) };
}

/** A whole-number option value (0 or more). */
export function parseCount(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}

/** A positive whole-number option value. */
export function parsePositive(text: string): number {
  const n = parseCount(text);
  if (n === 0) throw new InvalidArgumentError('expected a whole number from 1');
  return n;
}

export type OpenedCapture = Awaited<ReturnType<typeof openCapture>>;

/** Opens `file`, runs `fn`, closes; capture errors become one-line user errors naming the file. */
export async function withCapture<T>(file: string, fn: (r: OpenedCapture) => Promise<T>): Promise<T> {
  try {
    const reader = await openCapture(file);
    try {
      return await fn(reader);
    } finally {
      await reader.close();
    }
  } catch (err) {
    if (err instanceof CaptureError) throw new UserError(`${file}: ${err.message}`);
    throw err;
  }
}

/** What the reader found damaged, one line each, for a report or stderr. */
export function damageLines(r: OpenedCapture): string[] {
  return r.problems.map((p) => `damaged capture: ${p.message} (offset ${p.offset}, ${p.lostBytes} bytes unusable)`);
}

/** Writes to stdout, waiting for it to drain, so printing a huge capture stays bounded in memory. */
export function writeStdout(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', resolve);
  });
}

/** A reader (head, less) that goes away is not an error: exit 0 when stdout's pipe closes. */
export function exitQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

/** Exit status of a command that read a damaged capture: its output covers what was readable. */
export const EXIT_DAMAGED = 2;

/**
 * After a command has used what was readable: one line per damage on stderr, naming the file,
 * and exit status EXIT_DAMAGED, so scripts notice that the output may be incomplete.
 */
export function reportDamage(file: string, r: OpenedCapture): void {
  const lines = damageLines(r);
  if (lines.length === 0) return;
  process.stderr.write(lines.map((l) => `kcap: ${file}: ${l}\n`).join(''));
  process.exitCode = EXIT_DAMAGED;
}
