/**
 * `kcap analyze FILE [filter...]`: the report of what happened on the host — requests per
 * protocol, endpoint and operation, the service map, the slowest requests, TCP health, and what
 * was incomplete. The work is in src/analyze; this file only reads options and prints.
 */
import type { Command } from 'commander';
import { analyze } from '../analyze/analyze.js';
import { renderJson } from '../report/json.js';
import { renderText } from '../report/text.js';
import { damageLines, parseCount, reportDamage, selectionOf, selectionOptions, withCapture, type SelectionFlags } from './args.js';

interface AnalyzeFlags extends SelectionFlags {
  readonly json?: boolean;
  readonly top: number;
}

async function run(file: string, words: readonly string[], flags: AnalyzeFlags): Promise<void> {
  const selection = selectionOf(words, flags);
  await withCapture(file, async (source) => {
    const result = await analyze(source, { top: flags.top, ...selection });
    const damaged = damageLines(source);
    const withDamage = damaged.length ? { ...result, incomplete: { ...result.incomplete, problems: [...result.incomplete.problems, ...damaged] } } : result;
    process.stdout.write(flags.json ? renderJson(withDamage) : renderText(withDamage));
    reportDamage(file, source);
  });
}

export function registerAnalyze(program: Command): void {
  selectionOptions(program.command('analyze'))
    .description('report requests, latencies, errors and who talks to whom in a capture')
    .argument('<file>', '.kcap capture to read')
    .argument('[filter...]', 'only analyze the events and requests this filter selects (see kcap fields)')
    .option('--json', 'machine-readable report (fields documented in formats/analyze-json.md)')
    .option('-n, --top <n>', 'length of the slowest-requests and TCP lists', parseCount, 10)
    .action((file: string, words: string[], flags: AnalyzeFlags) => run(file, words, flags));
}
