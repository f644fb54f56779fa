/**
 * `kcap record`: options, validation and the status line; the work is in src/record/recorder.ts.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { Analyzer } from '../analyze/analyzer.js';
import type { RawChunk, SourceInfo } from '../capture/source.js';
import { programIoKeep } from '../record/bpf/index.js';
import { RecordError, record, type RecordStatus } from '../record/recorder.js';
import { renderText } from '../report/text.js';
import { bytesText, durationText } from '../report/units.js';
import { compileNode, ioNeeds, type IoNeeds } from '../filter/index.js';
import { filterTreeOf, parseDurationNs } from './args.js';
import { UserError } from './errors.js';

const MAX_SNAPLEN = 64 * 1024;

function parseSnaplen(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > MAX_SNAPLEN) {
    throw new InvalidArgumentError(`expected bytes from 0 to ${MAX_SNAPLEN}`);
  }
  return n;
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };

/** A ring size: bytes, or with a K, M or G suffix (powers of 1024); a power of two, 4K to 1G. */
function parseRingSize(text: string): number {
  const m = /^(\d+)([kmg]?)(?:i?b)?$/i.exec(text.trim());
  const n = m ? Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isInteger(n) || n < 4096 || n > 2 ** 30 || (n & (n - 1)) !== 0) {
    throw new InvalidArgumentError('expected a power of two from 4K to 1G (e.g. 16M)');
  }
  return n;
}

function parsePid(text: string, prev: number[] = []): number[] {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a process id');
  return [...prev, n];
}

function formatStatus(s: RecordStatus): string {
  const secs = s.elapsedMs / 1000;
  const rate = secs > 0 ? Math.round(s.events / secs) : 0;
  return `recording ${durationText(s.elapsedMs * 1e6)}  ${s.events} events (${rate}/s)  ${bytesText(s.bytesWritten)} written  ${s.lost} lost`;
}

interface RecordFlags {
  readonly output: string;
  readonly duration?: number;
  readonly snaplen: number;
  readonly ringSize?: number;
  readonly pid?: number[];
  readonly comm?: string;
  readonly container?: string;
  readonly analyze?: boolean;
}

/** What the programs drop for the filter, for the start line: '' when nothing. */
function kernelFilterText(needs: IoNeeds | undefined): string {
  if (!needs?.sockets) return '';
  const { ports: checked } = programIoKeep(needs);
  const ports = checked.length ? `, of TCP only ports ${checked.join(', ')}` : '';
  return `; the programs keep I/O on sockets only${ports}`;
}

/** Operands after `--` are the command to trace; those before it are the filter. */
function splitCommand(words: readonly string[]): { filterWords: string[]; command: string[] } {
  const dashes = process.argv.indexOf('--');
  const command = dashes < 0 ? [] : process.argv.slice(dashes + 1);
  return { filterWords: words.slice(0, words.length - command.length), command };
}

function stopOnSignals(): Promise<void> {
  return new Promise((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => resolve());
  });
}

export function registerRecord(program: Command): void {
  program.command('record')
  .description('record raw kernel events and host tables into a capture file (root)')
  .requiredOption('-o, --output <file>', 'capture file to write (created mode 0600)')
  .option('-d, --duration <time>', 'stop after this long (e.g. 10s, 2m)', (t: string) => parseDurationNs(t) / 1e6)
  .addOption(new Option('-s, --snaplen <bytes>', 'payload bytes kept per I/O event').default(4096).argParser(parseSnaplen))
  .option('-B, --ring-size <size>', 'ring buffer of each CPU, a power of two such as 16M (default: 64M shared out among the CPUs, at least 4M each)', parseRingSize)
  .option('-p, --pid <pid>', 'trace this process and its descendants, those it has and those it forks (repeatable)', parsePid)
  .option('-c, --comm <name>', 'trace only threads with this command name')
  .option('-C, --container <id>', 'trace the processes of this container (id or prefix) and their children')
  .option('-a, --analyze', 'analyze while recording and print the report at the end (same as kcap analyze FILE)')
  .argument('[filter...]', 'keep only I/O and TCP events this selects (state changes are always kept); see kcap fields')
  .addHelpText('after', '\nAfter --, a command to trace with its children; recording stops when it exits:\n  kcap record -o curl.kcap -- curl -s http://127.0.0.1:8080/')
  .action(async (words: string[], o: RecordFlags) => {
    const { filterWords, command } = splitCommand(words);
    const tree = filterTreeOf(filterWords);
    const filter = tree && { filter: compileNode(tree), ioKeep: ioNeeds(tree) };
    const tty = process.stderr.isTTY;
    // --analyze: the recorder drives an Analyzer with each chunk as it writes it.
    let analyzer: Analyzer | undefined;
    const live = o.analyze
      ? { onStart: (info: SourceInfo) => { analyzer = new Analyzer(info); }, onChunk: (c: RawChunk) => analyzer?.chunk(c) }
      : undefined;
    try {
      const result = await record({
        ...live,
        onReady: (n: number) => process.stderr.write(`kcap: recording to ${o.output} (${n} tracepoints attached${kernelFilterText(filter?.ioKeep)})\n`),
        output: o.output, snaplen: o.snaplen, stopSignal: stopOnSignals(),
        ...(o.duration !== undefined ? { durationMs: o.duration } : {}),
        ...(o.ringSize !== undefined ? { ringBytes: o.ringSize } : {}),
        ...(o.pid ? { pids: o.pid } : {}), ...(o.comm ? { comm: o.comm } : {}),
        ...(o.container ? { container: o.container } : {}), ...filter,
        ...(command.length ? { command } : {}),
        ...(process.env.KCAP_BPF_OBJECT ? { bpfObject: process.env.KCAP_BPF_OBJECT } : {}),
        ...(tty ? { onStatus: (s: RecordStatus) => process.stderr.write(`\r\x1b[K${formatStatus(s)}`) } : {}),
      });
      if (tty) process.stderr.write('\r\x1b[K');
      process.stderr.write(`kcap: wrote ${o.output}: ${formatStatus(result).replace(/^recording /, '')}\n`);
      if (result.writeError) throw new UserError(`${o.output}: ${result.writeError} (every complete chunk before it is readable)`);
      if (live) {
        if (!analyzer) throw new UserError('nothing was recorded to analyze');
        process.stdout.write(renderText(analyzer.finish()));
      }
      if (result.commandExit !== undefined) process.exitCode = result.commandExit;
    } catch (e) {
      if (e instanceof RecordError) throw new UserError(e.message);
      throw e;
    }
  });
}
