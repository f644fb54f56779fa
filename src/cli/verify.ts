/**
 * `kcap verify FILE`: checks every block of a capture. The exit status is the verdict, for
 * scripts: 0 intact, 2 recoverable (readable, losses listed), 3 unreadable.
 */
import type { Command } from 'commander';
import { verifyCapture, type CaptureStatus, type VerifyReport } from '../capture/index.js';

export const VERIFY_EXIT: Readonly<Record<CaptureStatus, number>> = { intact: 0, recoverable: 2, unreadable: 3 };

export function registerVerify(program: Command): void {
  program.command('verify')
    .description('check every block of a capture file (checksums, chunk contents, index)')
    .argument('<file>', 'capture file (.kcap)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExit status: 0 intact, 2 recoverable (readable, with losses), 3 unreadable.')
    .action(async (file: string, opts: { json?: boolean }) => {
      const report = await verifyCapture(file);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(file, report));
      process.exitCode = VERIFY_EXIT[report.status];
    });
}

export function formatReport(file: string, r: VerifyReport): string {
  const blocks = Object.entries(r.blocks).map(([k, n]) => `${k} ${n}`).join(', ');
  const head = r.status === 'unreadable'
    ? `${file}: unreadable`
    : `${file}: ${r.status}: ${r.chunks} chunks, ${r.records} records good; blocks: ${blocks}`;
  const lines = r.problems.map((p) =>
    `  ${p.block !== undefined ? `block ${p.block}, ` : ''}offset ${p.offset}: ${p.message}${p.lostBytes ? ` (${p.lostBytes} bytes lost)` : ''}`);
  if (r.lostBytes) lines.push(`  ${r.lostBytes} bytes lost in all`);
  return [head, ...lines].join('\n') + '\n';
}
