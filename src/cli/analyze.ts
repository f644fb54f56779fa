/**
 * `kcap analyze FILE [filter...]`: the report of what happened on the host — requests per
 * protocol, endpoint and operation, the service map, the slowest requests, TCP health, and what
 * was incomplete. The work is in src/analyze; this file only reads options and prints.
 */
import type { Command } from 'commander';
import { analyzeCapture, type TimePoint } from '../analyze/analyze.js';
import { defaultJobs } from '../analyze/parallel.js';
import { PROTOCOLS } from '../protocols/index.js';
import { renderJson } from '../report/json.js';
import { progressFor } from '../report/progress.js';
import { renderText } from '../report/text.js';
import { DEFAULT_TOP } from '../report/top.js';
import { damageLines, filterOf, parseCount, parsePositive, parseTimePoint, reportDamage, withCapture } from './args.js';
import { UserError } from './errors.js';

interface AnalyzeFlags {
  readonly json?: boolean;
  readonly top?: number;
  readonly protocol?: readonly string[];
  readonly from?: TimePoint;
  readonly to?: TimePoint;
  readonly jobs: number;
}

function protocolsOf(values: readonly string[] | undefined): string[] | undefined {
  if (!values) return undefined;
  const known = PROTOCOLS.map((p) => p.name);
  const names = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  for (const n of names) {
    if (!known.includes(n)) throw new UserError(`--protocol: unknown protocol '${n}' (known: ${known.join(', ')})`, 2);
  }
  return names;
}

async function run(file: string, words: readonly string[], flags: AnalyzeFlags): Promise<void> {
  filterOf(words); // a bad filter is a usage error before the capture is opened
  const protocols = protocolsOf(flags.protocol);
  const top = flags.top ?? DEFAULT_TOP;
  await withCapture(file, async (source) => {
    const progress = flags.json ? undefined : progressFor(source, process.stderr);
    const result = await analyzeCapture(source, {
      top, ...(words.length ? { filter: words.join(' ') } : {}), ...(protocols ? { protocols } : {}),
      ...(flags.from !== undefined ? { from: flags.from } : {}), ...(flags.to !== undefined ? { to: flags.to } : {}),
    }, flags.jobs, progress ? { onChunk: () => progress.update(source.position) } : {}).finally(() => progress?.finish());
    const damaged = damageLines(source);
    const withDamage = damaged.length ? { ...result, incomplete: { ...result.incomplete, problems: [...result.incomplete.problems, ...damaged] } } : result;
    process.stdout.write(flags.json ? renderJson(withDamage, flags.top) : renderText(withDamage, { top }));
    reportDamage(file, source);
  });
}

export function registerAnalyze(program: Command): void {
  program.command('analyze')
    .description('report requests, latencies, errors and who talks to whom in a capture')
    .argument('<file>', '.kcap capture to read')
    .argument('[filter...]', 'only analyze events this filter selects (see kcap fields)')
    .option('--json', 'machine-readable report (fields documented in formats/analyze-json.md)')
    .option('-n, --top <n>', `rows per list: endpoints, service map, slowest requests, TCP (default ${DEFAULT_TOP}; --json lists all endpoints and edges unless given)`, parseCount)
    .option('-P, --protocol <names...>', `only these protocols (${PROTOCOLS.map((p) => p.name).join(', ')})`)
    .option('--from <time>', 'only requests starting from this time: after the first event (5s) or UTC (2026-11-22T00:11:12Z)', parseTimePoint)
    .option('--to <time>', 'only requests starting before this time, in the same forms', parseTimePoint)
    .option('-j, --jobs <n>', 'worker threads (the report is the same for every number)', parsePositive, defaultJobs())
    .action((file: string, words: string[], flags: AnalyzeFlags) => run(file, words, flags));
}
