/**
 * End-to-end helpers: the kcap CLI run as a separate process (as a user runs it), recordings of a
 * client command (optionally with server processes traced too), and the real Debian servers of
 * /work/shared/SERVERS.md started on a free loopback port and stopped by pid. Builds on the
 * generic helpers of test/protocols/servers.ts.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AnalysisResult } from '../../src/analyze/analyze.js';
import { foreground, freePort, removeDir, stopChild, tempDir, waitForTcp } from '../protocols/servers.js';

const execFileP = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'src/cli/main.ts');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Past this a kcap run is stopped with SIGTERM (a recording then ends and stops its command),
 * before vitest's own 60 s test timeout would leave it running. */
const KCAP_TIMEOUT_MS = 50_000;

/** Runs `kcap ARGS` from the sources in a child process; never throws on a non-zero exit. */
export function kcap(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: KCAP_TIMEOUT_MS, killSignal: 'SIGTERM' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

export interface RecordOptions {
  /** Processes to trace besides the command (server processes, for a both-ends recording). */
  readonly pids?: readonly number[];
  /** Exit codes of the client that are expected (default only 0). */
  readonly okCodes?: readonly number[];
}

/** `kcap record -o FILE [-p PID]... -- COMMAND...`; the command's own stdout (kcap passes its
 * stdio through). Throws when recording fails or the client exits with an unexpected code. */
export async function recordCommand(file: string, command: readonly string[], o: RecordOptions = {}): Promise<string> {
  const pidArgs = (o.pids ?? []).flatMap((p) => ['-p', String(p)]);
  const r = await kcap(['record', '-o', file, ...pidArgs, '--', ...command]);
  if (!(o.okCodes ?? [0]).includes(r.code ?? -1) || !/kcap: wrote /.test(r.stderr)) {
    throw new Error(`kcap record -- ${command.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  }
  return r.stdout;
}

/** Records every process (or as `extra` options say) while `work` runs: `kcap record -o FILE -d LIMIT` is started,
 * `work` begins once the capture file exists (the probes are attached before it is created), and
 * the recording is stopped with SIGINT when `work` is done. */
export async function recordWhile<T>(file: string, work: () => Promise<T>, limitSeconds = 30, extra: readonly string[] = []): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'record', '-o', file, '-d', `${limitSeconds}s`, ...extra],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  try {
    const until = Date.now() + 20_000;
    while (!existsSync(file)) {
      if (child.exitCode !== null || Date.now() > until) throw new Error(`kcap record did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return await work();
  } finally {
    child.kill('SIGINT');
    const code = await exited;
    if (code !== 0) throw new Error(`kcap record exited ${code}: ${stderr}`);
  }
}

/** `kcap analyze FILE --json` parsed. */
export async function analyzeJson(file: string, extra: readonly string[] = []): Promise<AnalysisResult> {
  const r = await kcap(['analyze', file, '--json', ...extra]);
  if (r.code !== 0) throw new Error(`kcap analyze ${file} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as AnalysisResult;
}

/** Operation → request count over all endpoints of one protocol. */
export function countByOperation(r: AnalysisResult, protocol: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of r.endpoints) if (e.protocol === protocol) out[e.operation] = (out[e.operation] ?? 0) + e.count;
  return out;
}

/** Status → count over all endpoints of one protocol. */
export function countByStatus(r: AnalysisResult, protocol: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of r.endpoints) {
    if (e.protocol !== protocol) continue;
    for (const s of e.statuses) out[s.status] = (out[s.status] ?? 0) + s.count;
  }
  return out;
}

/** A pid and all its descendants (from /proc/PID/task/TID/children). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const tasks = safeList(`/proc/${out[i]}/task`);
    for (const t of tasks) {
      const kids = safeRead(`/proc/${out[i]}/task/${t}/children`).split(/\s+/).filter(Boolean).map(Number);
      out.push(...kids.filter((k) => !out.includes(k)));
    }
  }
  return out.sort((a, b) => a - b);
}

function safeList(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}

function safeRead(file: string): string {
  try { return readFileSync(file, 'utf8'); } catch { return ''; }
}

/** A real server on 127.0.0.1:port; `stop` kills what was started and removes its directory. */
export interface Server {
  readonly dir: string;
  readonly port: number;
  /** The server's main process id (its children follow it when traced from birth). */
  readonly pid: number;
  stop(): Promise<void>;
}

async function startForeground(tag: string, port: number, dir: string, cmd: string, args: string[]): Promise<Server> {
  const child: ChildProcess = foreground(cmd, args, dir);
  const stop = async (): Promise<void> => { await stopChild(child); removeDir(dir); };
  try {
    await waitForTcp(port);
  } catch (e) {
    await stop();
    throw new Error(`${tag} did not start: ${(e as Error).message}`);
  }
  return { dir, port, pid: child.pid!, stop };
}

/** nginx (master + one worker) serving `files` from DIR/www, access log at DIR/access.log. */
export async function startNginx(files: Readonly<Record<string, string>>): Promise<Server & { accessLog(): string[] }> {
  const dir = tempDir('e2e-nginx');
  const port = await freePort();
  mkdirSync(join(dir, 'www'));
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, 'www', name), body);
  writeFileSync(join(dir, 'nginx.conf'), `daemon off; master_process on; worker_processes 1;
pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  log_format kcap '$request_method $request_uri $status';
  access_log ${dir}/access.log kcap;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen 127.0.0.1:${port}; root ${dir}/www; }
}
`);
  const s = await startForeground('nginx', port, dir, 'nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir]);
  return { ...s, accessLog: () => safeRead(join(dir, 'access.log')).split('\n').filter(Boolean) };
}

export async function startRedis(): Promise<Server> {
  const dir = tempDir('e2e-redis');
  const port = await freePort();
  return startForeground('redis-server', port, dir, 'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
}

export async function startMemcached(): Promise<Server> {
  const dir = tempDir('e2e-memcached');
  const port = await freePort();
  return startForeground('memcached', port, dir, 'memcached', ['-u', 'root', '-l', '127.0.0.1', '-p', String(port), '-U', '0']);
}

/** dnsmasq authoritative for `domain` (unknown names there are NXDOMAIN) with `addresses`
 * (name → IPv4), on UDP and TCP; it forwards nothing. */
export async function startDnsmasq(domain: string, addresses: Readonly<Record<string, string>>): Promise<Server> {
  const dir = tempDir('e2e-dnsmasq');
  const port = await freePort();
  const names = Object.entries(addresses).map(([name, ip]) => `--address=/${name}/${ip}`);
  return startForeground('dnsmasq', port, dir, 'dnsmasq', ['--no-daemon', `--port=${port}`, '--listen-address=127.0.0.1',
    '--bind-interfaces', '--no-resolv', '--no-hosts', `--pid-file=${dir}/dnsmasq.pid`, `--local=/${domain}/`, ...names]);
}

export const PG_BIN = '/usr/lib/postgresql/15/bin';
const asPostgres = (cmd: string, args: string[]) =>
  execFileP('runuser', ['-u', 'postgres', '--', `${PG_BIN}/${cmd}`, ...args], { timeout: 120_000 });

/** PostgreSQL 15 cluster with trust auth for user postgres. */
export async function startPostgres(): Promise<Server> {
  const dir = tempDir('e2e-pg');
  const id = async (flag: string) => Number((await execFileP('id', [flag, 'postgres'])).stdout);
  chownSync(dir, await id('-u'), await id('-g'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const stop = async (): Promise<void> => {
    await asPostgres('pg_ctl', ['-D', `${dir}/pg`, '-m', 'immediate', 'stop']).catch(() => undefined);
    removeDir(dir);
  };
  try {
    await asPostgres('initdb', ['-D', `${dir}/pg`, '-A', 'trust', '-U', 'postgres']);
    await asPostgres('pg_ctl', ['-D', `${dir}/pg`, '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, '-l', `${dir}/pg.log`, '-w', 'start']);
  } catch (e) {
    await stop();
    throw e;
  }
  const pid = Number(readFileSync(`${dir}/pg/postmaster.pid`, 'utf8').split('\n')[0]);
  return { dir, port, pid, stop };
}

/** MariaDB with a fresh datadir; root connects over TCP without a password. */
export async function startMariadb(): Promise<Server> {
  const dir = tempDir('e2e-mariadb');
  const port = await freePort();
  await execFileP('mariadb-install-db', ['--user=root', `--datadir=${dir}/data`, '--auth-root-authentication-method=normal'], { timeout: 120_000 });
  return startForeground('mariadbd', port, dir, 'mariadbd', ['--no-defaults', '--user=root', `--datadir=${dir}/data`,
    `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${dir}/my.sock`, `--pid-file=${dir}/my.pid`,
    `--log-error=${dir}/err.log`]);
}
