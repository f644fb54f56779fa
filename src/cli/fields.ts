/**
 * `kcap fields`: every filter field with its type and a one-line description, like `sysdig -l`.
 */
import type { Command } from 'commander';
import { fieldsText } from '../report/fields.js';

export function registerFields(program: Command): void {
  program.command('fields')
    .description('list the fields filters can use, with a one-line description each')
    .option('--json', 'one JSON object per field')
    .action((flags: { json?: boolean }) => {
      process.stdout.write(fieldsText(flags.json ?? false));
    });
}
