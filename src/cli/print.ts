/**
 * `kcap print FILE [filter...]`: every event of a capture (or those the filter selects), one line
 * each, through the same conversion `kcap analyze` uses. Events go to stdout; the summary and any
 * damage found go to stderr, so stdout is the same bytes for the same capture and filter. With
 * stderr on a terminal and the events going elsewhere, a progress line shows how far it got.
 */
import type { Command } from 'commander';
import { printEvents, statsText } from '../report/print.js';
import { withProgress } from '../report/progress.js';
import { exitQuietlyOnClosedPipe, filterOf, reportDamage, withCapture, writeStdout } from './args.js';
import { UserError } from './errors.js';

interface PrintFlags {
  readonly ascii?: boolean;
  readonly hex?: boolean;
  readonly json?: boolean;
  readonly all?: boolean;
  readonly ignorePid?: readonly string[];
  readonly quiet?: boolean;
}

function pidsOf(values: readonly string[] = []): number[] {
  return values.map((v) => {
    if (!/^\d+$/.test(v)) throw new UserError(`--ignore-pid: '${v}' is not a pid`, 2);
    return Number(v);
  });
}

async function run(file: string, words: readonly string[], flags: PrintFlags): Promise<void> {
  const filter = filterOf(words);
  const ignorePids = pidsOf(flags.ignorePid);
  exitQuietlyOnClosedPipe();
  await withCapture(file, async (source) => {
    // Not while the events themselves go to the terminal, whose lines a progress line would break.
    const shown = flags.json || process.stdout.isTTY ? source : withProgress(source, process.stderr);
    const stats = await printEvents(shown, writeStdout, {
      ...(filter ? { filter } : {}), json: flags.json ?? false, keepAll: flags.all ?? false, ignorePids,
      payload: flags.hex ? 'hex' : flags.ascii ? 'ascii' : 'short',
    });
    if (!flags.quiet) process.stderr.write(`${statsText(stats)}\n`);
    reportDamage(file, source);
  });
}

export function registerPrint(program: Command): void {
  program.command('print')
    .description('print the events of a capture, one line each; an optional filter selects which (see kcap fields)')
    .argument('<file>', '.kcap capture to read')
    .argument('[filter...]', "filter expression, e.g. proc.name = nginx and evt.type in (read, write)")
    .option('-A, --ascii', 'show each payload in full, as printable text')
    .option('-X, --hex', 'show each payload as a hex dump')
    .option('--json', 'one JSON object per event')
    .option('--all', 'keep records that carry no information (EAGAIN, empty writes)')
    .option('--ignore-pid <pid...>', "drop these processes' events (e.g. the recorder's own)")
    .option('-q, --quiet', 'no summary on stderr')
    .action((file: string, words: string[], flags: PrintFlags) => run(file, words, flags));
}
