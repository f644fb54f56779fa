/**
 * `kcap analyze FILE [filter...]`: the report of what happened on the host — requests per
 * protocol, endpoint and operation, the service map, the slowest requests, TCP health, and what
 * was incomplete. The work is in src/analyze; this file only reads options and prints.
 */
import type { Command } from 'commander';
import { analyzeCapture } from '../analyze/analyze.js';
import { renderJson } from '../report/json.js';
import { progressFor } from '../report/progress.js';
import { renderText } from '../report/text.js';
import { DEFAULT_TOP } from '../report/top.js';
import { damageLines, parseCount, reportDamage, selectionOf, selectionOptions, withCapture, type SelectionFlags } from './args.js';

interface AnalyzeFlags extends SelectionFlags {
  readonly json?: boolean;
  readonly top?: number;
}

async function run(file: string, words: readonly string[], flags: AnalyzeFlags): Promise<void> {
  const top = flags.top ?? DEFAULT_TOP;
  const spec = { ...selectionOf(words, flags), top };
  await withCapture(file, async (source) => {
    const progress = flags.json ? undefined : progressFor(source, process.stderr);
    const result = await analyzeCapture(source, spec, flags.jobs, progress ? { onChunk: () => progress.update(source.position) } : {})
      .finally(() => progress?.finish());
    const damaged = damageLines(source);
    const withDamage = damaged.length ? { ...result, incomplete: { ...result.incomplete, problems: [...result.incomplete.problems, ...damaged] } } : result;
    process.stdout.write(flags.json ? renderJson(withDamage, flags.top) : renderText(withDamage, { top }));
    reportDamage(file, source);
  });
}

export function registerAnalyze(program: Command): void {
  selectionOptions(program.command('analyze'))
    .description('report requests, latencies, errors and who talks to whom in a capture')
    .argument('<file>', '.kcap capture to read')
    .argument('[filter...]', 'only analyze the events and requests this filter selects (see kcap fields)')
    .option('--json', 'machine-readable report (fields documented in formats/analyze-json.md)')
    .option('-n, --top <n>', `rows per list: endpoints, service map, slowest requests, TCP (default ${DEFAULT_TOP}; --json lists all endpoints and edges unless given)`, parseCount)
    .action((file: string, words: string[], flags: AnalyzeFlags) => run(file, words, flags));
}
