/**
 * Starting the command that `kcap record -- CMD ARGS` traces. The command must be in the traced-pid
 * set before it runs its first instruction, so it starts as a shell that stops itself; the
 * recorder adds its pid to the kernel filter, then lets it continue into `exec CMD`, which keeps
 * the pid. Its children join the set in the kernel on fork.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';

export interface TracedCommand {
  readonly pid: number;
  /** Resumes the stopped command. */
  resume(): void;
  /** Ends the command if it is still there: SIGKILL while it is still stopped before its exec (it
   * has run nothing yet, and a stopped process holds any other signal until continued), SIGTERM
   * once it runs. */
  stop(): void;
  /** Resolves with the exit code (128+signal when killed) once the command exits. */
  readonly exited: Promise<number>;
  readonly child: ChildProcess;
}

const STOP_THEN_EXEC = 'kill -STOP $$; exec "$0" "$@"';

export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/** Spawns `argv` stopped; stdio is inherited so the user sees and drives the command. */
export async function startStopped(argv: readonly string[]): Promise<TracedCommand> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new CommandError('no command given after --');
  const child = spawn('/bin/sh', ['-c', STOP_THEN_EXEC, cmd, ...args], { stdio: 'inherit' });
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? signalNumber(signal) : 0)));
  });
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('error', (e) => reject(new CommandError(`cannot start ${cmd}: ${e.message}`)));
    child.once('spawn', () => resolve(child.pid!));
  });
  await waitUntilStopped(pid);
  let resumed = false;
  return {
    pid, exited, child,
    resume: () => {
      resumed = true;
      process.kill(pid, 'SIGCONT');
    },
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(resumed ? 'SIGTERM' : 'SIGKILL');
    },
  };
}

function signalNumber(name: NodeJS.Signals): number {
  return osConstants.signals[name] ?? 0;
}

/** Polls /proc/PID/stat until the shell has stopped itself (state T). */
async function waitUntilStopped(pid: number): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'T' || state === 't') return;
    if (stat === '') throw new CommandError(`command exited before tracing started (pid ${pid})`);
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new CommandError(`command did not reach its start point (pid ${pid})`);
}
