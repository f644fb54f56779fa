/**
 * Real Debian servers for protocol, end-to-end and bench runs, per /work/shared/SERVERS.md:
 * packages installed by scripts/ensure-packages.sh, a fresh temporary directory and free port per
 * server, listening on 127.0.0.1 only, readiness by polling, and a stop that kills what was started
 * by its pid and removes the directory (tests call it in afterAll).
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  // KCAP_KEEP_TEST_FILES=1 keeps the captures a failing test made, to read them afterwards.
  if (process.env.KCAP_KEEP_TEST_FILES === '1') {
    process.stderr.write(`kept ${dir}\n`);
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}

/** A real server on 127.0.0.1:`port`, with its scratch directory, stopped by `stop`. */
export interface Server {
  readonly port: number;
  readonly dir: string;
  /** The server's main process id (its children follow it when traced from birth). */
  readonly pid: number;
  stop(): Promise<void>;
}

type Cleanups = (() => Promise<void>)[];

/** Whatever `start` leaves running is stopped even when it fails halfway; `start` gives the main pid. */
async function guarded(tag: string, start: (dir: string, port: number, cleanups: Cleanups) => Promise<number>): Promise<Server> {
  const dir = tempDir(tag);
  const port = await freePort();
  const cleanups: Cleanups = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
    removeDir(dir);
  };
  try {
    return { port, dir, pid: await start(dir, port, cleanups), stop };
  } catch (e) {
    await stop();
    throw new Error(`${tag} did not start: ${(e as Error).message}`, { cause: e });
  }
}

/** A foreground daemon stopped with the server; its pid. */
function daemon(cleanups: Cleanups, cmd: string, args: string[], dir: string): number {
  const child = foreground(cmd, args, dir);
  cleanups.push(() => stopChild(child));
  return child.pid!;
}

export function startRedis(): Promise<Server> {
  return guarded('redis', async (dir, port, cleanups) => {
    const pid = daemon(cleanups, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], dir);
    await waitForTcp(port);
    return pid;
  });
}

/** nginx closes a connection after 1000 requests (1.19.7+, HTTP/2 too), which a load generator's
 * multiplexed connection reaches in a fraction of a second; tests of long-lived HTTP/2 connections
 * (a recording joining them mid-way) need them to stay open. */
const H2_KEEPALIVE = 'keepalive_requests 10000000; keepalive_timeout 120s;';

export interface NginxOptions {
  /** Cleartext HTTP/2 with prior knowledge (`listen … http2`) instead of HTTP/1.1. */
  readonly http2?: boolean;
}

/**
 * nginx (master + one worker) serving `files` (name → content) from DIR/www; its access log
 * (DIR/access.log, "METHOD URI STATUS" a line) is read by `accessLog`. gzip is on, so answers
 * to a client that asks for compression are chunked; other clients get them as they are.
 */
export async function startNginx(files: Readonly<Record<string, string>>, o: NginxOptions = {}): Promise<Server & { accessLog(): string[] }> {
  const s = await guarded(o.http2 === true ? 'nginx-h2' : 'nginx', async (dir, port, cleanups) => {
    mkdirSync(join(dir, 'www'));
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, 'www', name), content);
    writeFileSync(join(dir, 'nginx.conf'), `daemon off; master_process on; worker_processes 1;
pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  log_format kcap '$request_method $request_uri $status';
  access_log ${dir}/access.log kcap;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  gzip on; gzip_types text/plain; gzip_min_length 1;
  ${o.http2 === true ? H2_KEEPALIVE : ''}
  server { listen 127.0.0.1:${port}${o.http2 === true ? ' http2' : ''}; root ${dir}/www; }
}
`);
    const pid = daemon(cleanups, 'nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], dir);
    await waitForTcp(port);
    return pid;
  });
  const log = join(s.dir, 'access.log');
  return { ...s, accessLog: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []) };
}

/** memcached over TCP only (-U 0: no UDP port). */
export function startMemcached(): Promise<Server> {
  return guarded('memcached', async (dir, port, cleanups) => {
    const pid = daemon(cleanups, 'memcached', ['-u', 'root', '-l', '127.0.0.1', '-p', String(port), '-U', '0'], dir);
    await waitForTcp(port);
    return pid;
  });
}

/** What dnsmasq answers, on UDP and TCP; it forwards nothing. */
export interface DnsRecords {
  /** name → IPv4, for the name and every name under it. */
  readonly addresses: Readonly<Record<string, string>>;
  /** A domain answered from these records alone: its unknown names are NXDOMAIN. */
  readonly local?: string;
  /** dnsmasq's --mx-host values: "name,exchange,preference". */
  readonly mx?: readonly string[];
  /** dnsmasq's --txt-record values: "name,text". */
  readonly txt?: readonly string[];
}

/** test.kcap (A, also for names under it), its MX and txt.kcap (TXT): what the protocol tests ask. */
const TEST_KCAP: DnsRecords = { addresses: { 'test.kcap': '10.1.2.3' }, mx: ['test.kcap,mail.test.kcap,10'], txt: ['txt.kcap,hello'] };

export function startDnsmasq(records: DnsRecords = TEST_KCAP): Promise<Server> {
  const answers = [
    ...Object.entries(records.addresses).map(([name, ip]) => `--address=/${name}/${ip}`),
    ...(records.local !== undefined ? [`--local=/${records.local}/`] : []),
    ...(records.mx ?? []).map((mx) => `--mx-host=${mx}`),
    ...(records.txt ?? []).map((txt) => `--txt-record=${txt}`),
  ];
  return guarded('dnsmasq', async (dir, port, cleanups) => {
    const pid = daemon(cleanups, 'dnsmasq', ['--no-daemon', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
      '--no-resolv', '--no-hosts', `--pid-file=${dir}/dnsmasq.pid`, ...answers], dir);
    await waitForTcp(port);
    return pid;
  });
}

export const PG_BIN = '/usr/lib/postgresql/15/bin';

/** PostgreSQL 15 with trust auth for user postgres, initialized for pgbench (scale 1). */
export function startPostgres(): Promise<Server> {
  return guarded('pg', async (dir, port, cleanups) => {
    const id = async (flag: string) => Number((await execFileP('id', [flag, 'postgres'])).stdout);
    chownSync(dir, await id('-u'), await id('-g'));
    chmodSync(dir, 0o755);
    const asPostgres = (cmd: string, args: string[]) =>
      execFileP('runuser', ['-u', 'postgres', '--', `${PG_BIN}/${cmd}`, ...args], { timeout: 120_000 });
    await asPostgres('initdb', ['-D', `${dir}/pg`, '-A', 'trust', '-U', 'postgres']);
    // Pushed before the start: a start that fails after the postmaster is up still stops it.
    cleanups.push(async () => { await asPostgres('pg_ctl', ['-D', `${dir}/pg`, '-m', 'immediate', 'stop']); });
    await asPostgres('pg_ctl', ['-D', `${dir}/pg`, '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, '-l', `${dir}/pg.log`, '-w', 'start']);
    await execFileP(`${PG_BIN}/pgbench`, ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-i', '-q', 'postgres'], { timeout: 120_000 });
    return Number(readFileSync(`${dir}/pg/postmaster.pid`, 'utf8').split('\n')[0]);
  });
}

/**
 * MariaDB with a fresh datadir: root without a password (over TCP as root@127.0.0.1), a user kcap/kcap and a
 * table d.t (id INT PRIMARY KEY, v VARCHAR(20)); `admin` runs SQL as root over the socket.
 */
export async function startMariadb(): Promise<Server & { admin(sql: string): Promise<string> }> {
  let sock = '';
  const admin = async (sql: string): Promise<string> =>
    (await execFileP('mariadb', ['--socket', sock, '-uroot', '-N', '-B', '-e', sql])).stdout;
  const s = await guarded('mariadb', async (dir, port, cleanups) => {
    sock = `${dir}/my.sock`;
    await execFileP('mariadb-install-db', ['--user=root', `--datadir=${dir}/data`, '--auth-root-authentication-method=normal'], { timeout: 120_000 });
    const pid = daemon(cleanups, 'mariadbd', ['--no-defaults', '--user=root', `--datadir=${dir}/data`, `--port=${port}`,
      '--bind-address=127.0.0.1', `--socket=${sock}`, `--pid-file=${dir}/my.pid`, `--log-error=${dir}/err.log`,
      // Without it a client on 127.0.0.1 is from localhost, where install-db's anonymous user outranks kcap@'%'.
      '--skip-name-resolve'], dir);
    await waitForTcp(port);
    await admin("CREATE USER kcap@'%' IDENTIFIED BY 'kcap'; GRANT ALL ON *.* TO kcap@'%'; CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(20))");
    return pid;
  });
  return { ...s, admin };
}

/** Debian's own Python, which has python3-grpcio (the `python3` first on PATH may not). */
export const DEBIAN_PYTHON = '/usr/bin/python3';
/** The gRPC peer of the end-to-end tests (server and client; see its docstring). */
export const GRPC_PEER = join(ROOT, 'test/e2e/clients/grpc_peer.py');

/** Resolves once `child` prints a line matching `ready` on stdout; rejects if it exits first. */
function printed(child: ChildProcess, ready: RegExp, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${ready} within ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code} before it was ready`)); });
  });
}

/** The python3-grpcio server of kcap.test.Echo (test/e2e/clients/grpc_peer.py), ready once it says so. */
export function startGrpcPeer(): Promise<Server> {
  return guarded('grpc-peer', async (dir, port, cleanups) => {
    const child = spawn(DEBIAN_PYTHON, [GRPC_PEER, 'server', '--port', String(port)], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr!.resume();
    cleanups.push(() => stopChild(child));
    await printed(child, /^ready /m);
    return child.pid!;
  });
}

/** Where etcdctl reaches the server, and its environment (API v3). */
export function etcdctlArgs(port: number): { readonly args: readonly string[]; readonly env: NodeJS.ProcessEnv } {
  return { args: [`--endpoints=http://127.0.0.1:${port}`], env: { ...process.env, ETCDCTL_API: '3' } };
}

/** A one-member etcd (grpc-go) with its client port `port` and a second free port for peers; ready once
 * `etcdctl endpoint health` says so. */
export function startEtcd(): Promise<Server> {
  return guarded('etcd', async (dir, port, cleanups) => {
    const client = `http://127.0.0.1:${port}`;
    const peer = `http://127.0.0.1:${await freePort()}`;
    const pid = daemon(cleanups, 'etcd', ['--data-dir', join(dir, 'etcd'), '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `default=${peer}`], dir);
    await etcdHealthy(port);
    return pid;
  });
}

async function etcdHealthy(port: number, timeoutMs = 30_000): Promise<void> {
  const { args, env } = etcdctlArgs(port);
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await execFileP('etcdctl', [...args, '--command-timeout=2s', 'endpoint', 'health'], { env, timeout: 5000 });
      return;
    } catch (e) {
      if (Date.now() > until) throw new Error(`etcd on 127.0.0.1:${port} not healthy: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
