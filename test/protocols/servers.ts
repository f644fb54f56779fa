/**
 * Real Debian servers for protocol tests, per /work/shared/SERVERS.md: packages installed by
 * scripts/ensure-packages.sh, a fresh temporary directory and free port per server, readiness
 * by polling, and a stop that kills what was started by its pid (tests call it in afterAll).
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

/** Installs `packages` if needed; returns why the test must skip, or undefined. */
export function ensurePackages(...packages: string[]): string | undefined {
  const r = spawnSync('bash', [join(ROOT, 'scripts/ensure-packages.sh'), ...packages], { encoding: 'utf8' });
  if (r.status === 0) return undefined;
  return `Debian packages ${packages.join(' ')} unavailable (${(r.stderr || '').trim() || `exit ${r.status}`})`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `kcap-${tag}-`));
}

/** Run a client to completion; its stdout. Throws with stderr on failure. */
export async function client(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const r = await execFileP(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 });
  return r.stdout;
}

export async function waitForTcp(port: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listening on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A started server; `stop` is safe to call more than once. */
export interface Running {
  readonly dir: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Start a foreground daemon; stop kills it by pid and removes its directory. */
export function foreground(cmd: string, args: string[], dir: string): ChildProcess {
  const child = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  return child;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
