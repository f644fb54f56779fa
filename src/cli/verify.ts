/**
 * `kcap verify FILE`: checks every block of a capture. The exit status is the verdict, for
 * scripts: 0 intact, 2 recoverable (readable, losses listed), 3 unreadable.
 */
import type { Command } from 'commander';
import { verifyCapture, type CaptureStatus } from '../capture/index.js';
import { jsonText } from '../report/json.js';
import { verifyText } from '../report/verify.js';

export const VERIFY_EXIT: Readonly<Record<CaptureStatus, number>> = { intact: 0, recoverable: 2, unreadable: 3 };

export function registerVerify(program: Command): void {
  program.command('verify')
    .description('check every block of a capture file (checksums, chunk contents, index)')
    .argument('<file>', 'capture file (.kcap)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExit status: 0 intact, 2 recoverable (readable, with losses), 3 unreadable.')
    .action(async (file: string, opts: { json?: boolean }) => {
      const report = await verifyCapture(file);
      process.stdout.write(opts.json ? jsonText(report) : verifyText(file, report));
      process.exitCode = VERIFY_EXIT[report.status];
    });
}
