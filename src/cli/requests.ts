/**
 * `kcap requests FILE [filter...]`: one line per L7 request (or, with --json, one object per
 * line), like `sysdig -c httplog` or `tshark -Y http`. It runs the same analysis as `kcap analyze`
 * (on as many threads) and prints its record stream, so it lists exactly the requests that the
 * report of the same filter and options counts, in the order they complete.
 */
import type { Command } from 'commander';
import { analyzeCapture } from '../analyze/analyze.js';
import { progressFor } from '../report/progress.js';
import { requestJson, requestRow, requestText } from '../report/requests.js';
import {
  exitQuietlyOnClosedPipe, reportDamage, selectionOf, selectionOptions, withCapture, writeStdout, type SelectionFlags,
} from './args.js';

interface RequestsFlags extends SelectionFlags {
  readonly json?: boolean;
}

async function run(file: string, words: readonly string[], flags: RequestsFlags): Promise<void> {
  const spec = selectionOf(words, flags);
  const render = flags.json ? requestJson : requestText;
  exitQuietlyOnClosedPipe();
  await withCapture(file, async (source) => {
    let pending = '';
    // Each chunk's lines are written before the next is read: memory stays bounded by a chunk's
    // requests however large the capture and however slow the reader.
    const flush = async (): Promise<void> => {
      if (pending !== '') await writeStdout(pending);
      pending = '';
    };
    // Not while the lines themselves go to the terminal, which a progress line would break.
    const progress = flags.json || process.stdout.isTTY ? undefined : progressFor(source, process.stderr);
    await analyzeCapture(source, spec, flags.jobs, {
      onRecord: (rec, ctx) => { pending += render(requestRow(rec, ctx, source.clock)); },
      onChunk: async () => {
        progress?.update(source.position);
        await flush();
      },
    }).finally(() => progress?.finish());
    await flush();
    reportDamage(file, source);
  });
}

export function registerRequests(program: Command): void {
  selectionOptions(program.command('requests'))
    .description('list the L7 requests of a capture, one line each: time, client → server, processes, protocol, operation, status, latency, bytes, resource')
    .argument('<file>', '.kcap capture to read')
    .argument('[filter...]', "only the events and requests this filter selects, e.g. 'http.status >= 500' (see kcap fields)")
    .option('--json', 'one JSON object per request (fields documented in formats/requests-json.md)')
    .action((file: string, words: string[], flags: RequestsFlags) => run(file, words, flags));
}
