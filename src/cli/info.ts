/**
 * `kcap info FILE`: what a capture holds (header, machine, time range, events by type, tables,
 * losses, compression), as aligned text or, with --json, as the CaptureSummary object.
 */
import type { Command } from 'commander';
import { summarize } from '../capture/index.js';
import { infoText } from '../report/info.js';
import { jsonText } from '../report/json.js';
import { withCapture } from './args.js';

export function registerInfo(program: Command): void {
  program.command('info')
    .description('show what a capture file holds: machine, time range, events by type, tables, losses, compression')
    .argument('<file>', 'capture file (.kcap)')
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const summary = await withCapture(file, summarize);
      process.stdout.write(opts.json ? jsonText(summary) : infoText(summary));
    });
}
