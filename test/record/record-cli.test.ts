/**
 * `kcap record` as a user runs it: the CLI records a real client against a real redis-server,
 * `--analyze` prints exactly what `kcap analyze` of the written file prints, a recorder killed
 * with SIGKILL leaves a file whose complete chunks read back, and user mistakes get one-line
 * errors with a non-zero exit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openCapture } from '../../src/capture/index.js';
import { describeBpf } from '../helpers/bpf.js';
import { buildFloorObject } from '../../bench/lib/floor-object.js';
import { ensurePackages, freePort, startRedis, waitForTcp, type Server } from '../helpers/servers.js';

const KCAP = new URL('../../bin/kcap.js', import.meta.url).pathname;

function kcap(args: string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [KCAP, ...args], { encoding: 'utf8', env, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describeBpf('kcap record (CLI, real redis)', () => {
  let redis: Server;
  let dir: string;

  beforeAll(async () => {
    spawnSync('npx', ['tsc', '-p', '.'], { cwd: new URL('../..', import.meta.url).pathname });
    const missing = ensurePackages('redis-server', 'redis-tools');
    if (missing) throw new Error(missing);
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'kcap-record-cli-'));
  });

  afterAll(async () => {
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('--analyze prints the same report as kcap analyze of the file it wrote', async () => {
    const file = join(dir, 'live.kcap');
    const n = 1500;
    // The client's own output goes to a file so stdout is the report only.
    const bench = `redis-benchmark -p ${redis.port} -n ${n} -c 4 -t get,set -q > ${join(dir, 'bench.txt')}`;
    const live = kcap(['record', '--analyze', '-o', file, '--', 'sh', '-c', bench]);
    expect(live.status, live.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const offline = kcap(['analyze', file]);
    expect(offline.status, offline.stderr).toBe(0);
    expect(live.stdout).toBe(offline.stdout);
    const json = JSON.parse(kcap(['analyze', '--json', file]).stdout);
    const count = (op: string): number => json.endpoints.filter((e: { operation: string }) => e.operation === op)
      .reduce((s: number, e: { count: number }) => s + e.count, 0);
    expect([count('GET'), count('SET')]).toEqual([n, n]);
    // The drain summarizes each batch natively (count, ts range, records per CPU) for the writer:
    // verify checks every chunk's count and exact ts range against its records.
    const v = JSON.parse(kcap(['verify', '--json', file]).stdout);
    expect(v.status).toBe('intact');
    const capture = await openCapture(file);
    const stats = capture.stats!;
    await capture.close();
    expect(stats.records).toBe(v.records);
    expect(stats.perCpu.reduce((a, c) => a + c.records, 0)).toBe(v.records);
  });

  it('leaves a readable file when killed with SIGKILL mid-run', async () => {
    const file = join(dir, 'killed.kcap');
    const rec = spawn(process.execPath, [KCAP, 'record', '-o', file, '--', 'redis-benchmark', '-p', String(redis.port),
      '-n', '2000000', '-c', '4', '-t', 'set', '-q'], { stdio: 'ignore' });
    // Let it write several chunks, then kill it without warning.
    for (let i = 0; i < 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if ((statSync(file, { throwIfNoEntry: false })?.size ?? 0) > 1 << 20) break;
    }
    rec.kill('SIGKILL');
    await new Promise((r) => rec.once('exit', r));
    spawnSync('pkill', ['-f', `redis-benchmark -p ${redis.port}`]);
    const verify = kcap(['verify', '--json', file]);
    const v = JSON.parse(verify.stdout);
    expect(v.status).toBe('recoverable');
    expect(verify.status).not.toBe(0);
    const info = JSON.parse(kcap(['info', '--json', file]).stdout);
    expect(info.records).toBeGreaterThan(1000);
    const report = JSON.parse(kcap(['analyze', '--json', file]).stdout);
    expect(report.endpoints.find((e: { operation: string }) => e.operation === 'SET')?.count).toBeGreaterThan(100);
  });

  it('refuses an output it cannot write with a one-line error', () => {
    const r = kcap(['record', '-o', '/proc/kcap-cannot-write.kcap', '-d', '1s']);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^kcap: .*kcap-cannot-write\.kcap/);
  });

  it('loads the BPF object KCAP_BPF_OBJECT names: the bench\'s floor object attaches everything and records nothing', () => {
    const missing = ensurePackages('clang-14', 'llvm-14');
    if (missing) throw new Error(missing);
    const floor = buildFloorObject(dir);
    const attached = (r: { stderr: string }) => /\((\d+) tracepoints attached\)/.exec(r.stderr)?.[1];
    const events = (file: string) => JSON.parse(kcap(['info', '--json', file]).stdout).records as number;
    const traffic = ['--', 'redis-benchmark', '-p', String(redis.port), '-n', '200', '-c', '2', '-t', 'set', '-q'];
    const real = kcap(['record', '-o', join(dir, 'real.kcap'), ...traffic]);
    const empty = kcap(['record', '-o', join(dir, 'floor.kcap'), ...traffic], { ...process.env, KCAP_BPF_OBJECT: floor });
    expect(real.status, real.stderr).toBe(0);
    expect(empty.status, empty.stderr).toBe(0);
    expect(attached(empty)).toBe(attached(real));
    expect(Number(attached(real))).toBeGreaterThan(60);
    expect(events(join(dir, 'real.kcap'))).toBeGreaterThan(400);
    expect(events(join(dir, 'floor.kcap'))).toBe(0);
  });

  it('names a KCAP_BPF_OBJECT it cannot read in one line', () => {
    const r = kcap(['record', '-o', join(dir, 'none.kcap'), '-d', '1s'], { ...process.env, KCAP_BPF_OBJECT: join(dir, 'no-such.o') });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^kcap: loading the kcap BPF object: ENOENT.*no-such\.o/);
  });

  it('ends the command it was to trace when it cannot start, instead of waiting on it', () => {
    const marker = join(dir, 'ran');
    const r = kcap(['record', '-o', '/proc/kcap-cannot-write.kcap', '--', 'sh', '-c', `touch ${marker}`]);
    expect(r.status).toBeTypeOf('number'); // it returned, rather than being killed at the timeout
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^kcap: .*kcap-cannot-write\.kcap/);
    expect(existsSync(marker)).toBe(false); // stopped before its exec, it never ran
  });

  it('takes a ring size per CPU in bytes or K/M/G, refusing one that is not a power of two', () => {
    const ok = kcap(['record', '-o', join(dir, 'ring.kcap'), '-B', '4M', '-d', '300ms']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/kcap: wrote .* 0 lost/);
    const bad = kcap(['record', '-o', join(dir, 'x.kcap'), '-B', '3M', '-d', '1s']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/ring-size.*power of two/);
    expect(existsSync(join(dir, 'x.kcap'))).toBe(false);
  });

  it('refuses a snaplen above 64 KiB as a usage error', () => {
    const r = kcap(['record', '-o', join(dir, 'x.kcap'), '-s', '70000', '-d', '1s']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/snaplen/);
  });
});

describeBpf('kcap record selection (CLI, real redis)', () => {
  const ID = 'c0ffee'.padEnd(64, '7');
  const CGROUP = `/sys/fs/cgroup/unified/kcap-test.slice/docker-${ID}.scope`;
  let dir: string;
  let server: ReturnType<typeof spawn> | undefined;
  let port = 0;

  beforeAll(async () => {
    spawnSync('npx', ['tsc', '-p', '.'], { cwd: new URL('../..', import.meta.url).pathname });
    const missing = ensurePackages('redis-server', 'redis-tools');
    if (missing) throw new Error(missing);
    dir = mkdtempSync(join(tmpdir(), 'kcap-record-sel-'));
    port = await freePort();
    // A redis-server inside a cgroup named the way docker names its containers.
    mkdirSync(CGROUP, { recursive: true });
    server = spawn('sh', ['-c', `echo $$ > ${CGROUP}/cgroup.procs && exec redis-server --port ${port} --bind 127.0.0.1 --save '' --appendonly no`], { stdio: 'ignore' });
    await waitForTcp(port);
  });

  afterAll(async () => {
    server?.kill('SIGKILL');
    if (server) await new Promise((r) => server!.once('exit', r));
    for (const d of [CGROUP, '/sys/fs/cgroup/unified/kcap-test.slice']) spawnSync('rmdir', [d]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('--container traces the container\'s processes and names the container in the report', async () => {
    const file = join(dir, 'container.kcap');
    const rec = spawn(process.execPath, [KCAP, 'record', '-o', file, '-d', '3s', '--container', ID.slice(0, 12)], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise((resolve) => rec.stderr!.on('data', (d: Buffer) => { if (d.toString().includes('recording to')) resolve(undefined); }));
    const n = 300;
    spawnSync('redis-benchmark', ['-p', String(port), '-n', String(n), '-c', '2', '-t', 'set', '-q']);
    await new Promise((r) => rec.once('exit', r));
    const report = JSON.parse(kcap(['analyze', '--json', file]).stdout);
    const set = report.endpoints.find((e: { operation: string }) => e.operation === 'SET');
    expect(set?.count).toBe(n);
    expect(set?.serverProcess).toMatch(new RegExp(`^redis-server\\[\\d+\\]@${ID.slice(0, 12)}$`));
    // TCP tracepoints fire in softirq context, where the current process is whoever was running,
    // so they are host-wide; every other event must come from the container.
    const others = kcap(['print', '--json', '-q', file, 'not', 'container.id', '=', ID, 'and', 'evt.category', '!=', 'tcp']).stdout.trim();
    expect(others).toBe('');
  });

  it('a filter keeps only the I/O it selects, and the state changes replay needs', () => {
    const file = join(dir, 'filtered.kcap');
    const n = 200;
    const r = kcap(['record', '-o', file, 'evt.is_io', '=', 'true', 'and', 'fd.sport', '=', String(port), '--',
      'sh', '-c', `cat /etc/hostname >/dev/null; redis-benchmark -p ${port} -n ${n} -c 2 -t get -q >/dev/null`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`the programs keep I/O on sockets only, of TCP only ports ${port})`);
    const events = kcap(['print', '--json', '-q', file]).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const io = events.filter((e) => e.dir !== null);
    expect(io.length).toBeGreaterThan(2 * n);
    expect(io.every((e) => e.fd?.sport === port)).toBe(true);
    expect(events.some((e) => e.type === 'connect')).toBe(true);
    const report = JSON.parse(kcap(['analyze', '--json', file]).stdout);
    expect(report.endpoints.find((e: { operation: string }) => e.operation === 'GET')?.count).toBe(n);
  });
});

describeBpf('kcap record failures a user can meet', () => {
  let dir: string;
  let mnt: string;

  beforeAll(() => {
    spawnSync('npx', ['tsc', '-p', '.'], { cwd: new URL('../..', import.meta.url).pathname });
    dir = mkdtempSync(join(tmpdir(), 'kcap-record-fail-'));
    chmodSync(dir, 0o777);
    mnt = join(dir, 'small');
    mkdirSync(mnt);
    // A 1 MiB filesystem: recording a busy host fills it within a second or two.
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    if (m.status !== 0) throw new Error(`cannot mount a tmpfs: ${m.stderr}`);
  });

  afterAll(() => {
    if (mnt) spawnSync('umount', [mnt]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('says in one line that recording needs root when run as an unprivileged user', () => {
    const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, KCAP, 'record', '-o', join(dir, 'x.kcap'), '-d', '1s'],
      { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^kcap: cannot record: recording needs root/);
  });

  it('finalizes what it wrote when the disk fills, and says so', () => {
    const file = join(mnt, 'full.kcap');
    // Payload-heavy I/O by the traced command fills 1 MiB of compressed chunks quickly.
    const r = kcap(['record', '-o', file, '-d', '20s', '--', 'sh', '-c',
      'for i in $(seq 1 400); do head -c 200000 /dev/urandom > /dev/null; done']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/kcap: .*full\.kcap: .*(ENOSPC|no space)/i);
    expect(r.stderr).toMatch(/every complete chunk before it is readable/);
    const v = JSON.parse(kcap(['verify', '--json', file]).stdout);
    expect(['intact', 'recoverable']).toContain(v.status);
    const info = JSON.parse(kcap(['info', '--json', file]).stdout);
    expect(info.chunks).toBeGreaterThan(0);
    expect(info.records).toBeGreaterThan(0);
  });
});
