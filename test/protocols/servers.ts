/**
 * Real Debian servers for protocol tests, per /work/shared/SERVERS.md: packages installed by
 * scripts/ensure-packages.sh, a fresh temporary directory and free port per server, readiness
 * by polling, and a stop that kills what was started by its pid (tests call it in afterAll).
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * Installs `packages` if needed; returns why the test must skip, or undefined. Under
 * KCAP_REQUIRE_BPF=1 (CI, as root) a real-traffic test must not skip, so this throws instead.
 */
export function ensurePackages(...packages: string[]): string | undefined {
  const r = spawnSync('bash', [join(ROOT, 'scripts/ensure-packages.sh'), ...packages], { encoding: 'utf8' });
  if (r.status === 0) return undefined;
  return skipOrFail(`Debian packages ${packages.join(' ')} unavailable (${(r.stderr || '').trim() || `exit ${r.status}`})`);
}

/** `reason`, unless skipping is not allowed here. */
export function skipOrFail(reason: string): string {
  if (process.env.KCAP_REQUIRE_BPF === '1') throw new Error(`${reason} (KCAP_REQUIRE_BPF=1 forbids skipping)`);
  return reason;
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

/** Start a daemon that stays in the foreground; `stopChild` ends it by its pid. */
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

/** A real server on 127.0.0.1:`port`, with its scratch directory, stopped by `stop`. */
export interface Server {
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

/** Whatever `start` leaves running is stopped even when it fails halfway. */
async function guarded(tag: string, start: (dir: string, port: number, cleanups: (() => Promise<void>)[]) => Promise<void>): Promise<Server> {
  const dir = tempDir(tag);
  const port = await freePort();
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
    removeDir(dir);
  };
  try {
    await start(dir, port, cleanups);
  } catch (e) {
    await stop();
    throw e;
  }
  return { port, dir, stop };
}

function daemon(cleanups: (() => Promise<void>)[], cmd: string, args: string[], dir: string): void {
  const child = foreground(cmd, args, dir);
  cleanups.push(() => stopChild(child));
}

export function startRedis(): Promise<Server> {
  return guarded('redis', async (dir, port, cleanups) => {
    daemon(cleanups, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], dir);
    await waitForTcp(port);
  });
}

/** nginx serving `files` (name → content) with gzip on, so compressible answers are chunked. */
export function startNginx(files: Readonly<Record<string, string>>): Promise<Server> {
  return guarded('nginx', async (dir, port, cleanups) => {
    mkdirSync(join(dir, 'www'));
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, 'www', name), content);
    writeFileSync(join(dir, 'nginx.conf'), `daemon off; master_process on; worker_processes 1;
pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  gzip on; gzip_types text/plain; gzip_min_length 1;
  server { listen 127.0.0.1:${port}; root ${dir}/www; }
}
`);
    daemon(cleanups, 'nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], dir);
    await waitForTcp(port);
  });
}

export function startMemcached(): Promise<Server> {
  return guarded('memcached', async (dir, port, cleanups) => {
    daemon(cleanups, 'memcached', ['-u', 'root', '-l', '127.0.0.1', '-p', String(port)], dir);
    await waitForTcp(port);
  });
}

/** dnsmasq answering test.kcap (A), its MX and txt.kcap (TXT); nothing upstream. */
export function startDnsmasq(): Promise<Server> {
  return guarded('dnsmasq', async (dir, port, cleanups) => {
    daemon(cleanups, 'dnsmasq', ['--no-daemon', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
      '--no-resolv', '--no-hosts', '--address=/test.kcap/10.1.2.3', '--mx-host=test.kcap,mail.test.kcap,10',
      '--txt-record=txt.kcap,hello', `--pid-file=${dir}/dnsmasq.pid`], dir);
    await waitForTcp(port);
  });
}

export const PG_BIN = '/usr/lib/postgresql/15/bin';

/** PostgreSQL 15 with trust auth, initialized for pgbench (scale 1). */
export function startPostgres(): Promise<Server> {
  return guarded('pg', async (dir, port, cleanups) => {
    const id = async (flag: string) => Number((await execFileP('id', [flag, 'postgres'])).stdout);
    chownSync(dir, await id('-u'), await id('-g'));
    chmodSync(dir, 0o755);
    const asPostgres = (cmd: string, args: string[]) =>
      execFileP('runuser', ['-u', 'postgres', '--', `${PG_BIN}/${cmd}`, ...args], { timeout: 120_000 });
    await asPostgres('initdb', ['-D', `${dir}/pg`, '-A', 'trust', '-U', 'postgres']);
    await asPostgres('pg_ctl', ['-D', `${dir}/pg`, '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, '-l', `${dir}/pg.log`, '-w', 'start']);
    cleanups.push(async () => { await asPostgres('pg_ctl', ['-D', `${dir}/pg`, '-m', 'immediate', 'stop']); });
    await execFileP(`${PG_BIN}/pgbench`, ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-i', '-q', 'postgres'], { timeout: 120_000 });
  });
}

/** MariaDB with a user kcap/kcap over TCP and a table d.t (id INT PRIMARY KEY, v VARCHAR(20)). */
export function startMariadb(): Promise<Server & { admin(sql: string): Promise<string> }> {
  let sock = '';
  const admin = async (sql: string): Promise<string> =>
    (await execFileP('mariadb', ['--socket', sock, '-uroot', '-N', '-B', '-e', sql])).stdout;
  return guarded('mariadb', async (dir, port, cleanups) => {
    sock = `${dir}/my.sock`;
    await execFileP('mariadb-install-db', ['--user=root', `--datadir=${dir}/data`, '--auth-root-authentication-method=socket'], { timeout: 120_000 });
    daemon(cleanups, 'mariadbd', ['--no-defaults', '--user=root', `--datadir=${dir}/data`, `--port=${port}`, '--bind-address=127.0.0.1',
      `--socket=${sock}`, `--pid-file=${dir}/my.pid`, `--log-error=${dir}/err.log`, '--skip-name-resolve'], dir);
    for (let i = 0; ; i++) {
      if (await execFileP('mariadb-admin', ['--socket', sock, '-uroot', 'ping']).then(() => true, () => false)) break;
      if (i > 150) throw new Error('mariadbd did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
    await admin("CREATE USER kcap@'%' IDENTIFIED BY 'kcap'; GRANT ALL ON *.* TO kcap@'%'; CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(20))");
  }).then((s) => ({ ...s, admin }));
}
