/** A `kcap record` run for the recorder benches: started, ready, stopped. */
import { spawn, type ChildProcess } from 'node:child_process';
import { loadedPrograms } from '../../src/record/bpf/index.js';

export interface Recording {
  readonly child: ChildProcess;
  /** What the recorder printed so far. */
  stderr(): string;
  /** Stops it (SIGINT, as Ctrl-C) and resolves to its stderr once it exited 0. */
  stop(): Promise<string>;
}

/** Starts `kcap record -o file …args` with the given kcap (and environment additions) and resolves
 * once it records. */
export async function startRecording(kcap: string, file: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<Recording> {
  const child = spawn(process.execPath, [kcap, 'record', '-o', file, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('recording to')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`kcap record exited ${code}: ${stderr}`)));
  });
  return {
    child,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGINT');
      const code = await exited;
      if (code !== 0) throw new Error(`kcap record exited ${code}: ${stderr}`);
      return stderr;
    },
  };
}

/** Waits until no kcap program is loaded any more (a recorder detaches in the background). */
export async function detached(): Promise<void> {
  while (loadedPrograms().some((p) => p.name.startsWith('kcap_'))) await new Promise((r) => setTimeout(r, 100));
}
