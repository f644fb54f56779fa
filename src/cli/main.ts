/**
 * The kcap command line. Each command is a thin definition in its own file (options, validation)
 * that calls into the library; this file only wires them and turns user mistakes into one-line
 * errors with a non-zero exit instead of stack traces.
 */
import { Command, CommanderError } from 'commander';
import { UserError } from './errors.js';
import { registerAnalyze } from './analyze.js';
import { registerFields } from './fields.js';
import { registerInfo } from './info.js';
import { registerPrint } from './print.js';
import { registerRecord } from './record.js';
import { registerRequests } from './requests.js';
import { registerVerify } from './verify.js';

const program = new Command('kcap')
  .description('Replayable capture toolkit for Linux hosts: record with eBPF, analyze anywhere')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

// Commands register here, one line each.
registerRecord(program);
registerAnalyze(program);
registerPrint(program);
registerRequests(program);
registerInfo(program);
registerVerify(program);
registerFields(program);

async function main(argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof UserError) {
      process.stderr.write(`kcap: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    throw err;
  }
}

await main(process.argv);
