/**
 * `kcap record` as a user runs it: the CLI records a real client against a real redis-server,
 * `--analyze` prints exactly what `kcap analyze` of the written file prints, a recorder killed
 * with SIGKILL leaves a file whose complete chunks read back, and user mistakes get one-line
 * errors with a non-zero exit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBpf } from '../helpers/bpf.js';
import { ensurePackages, startRedis, type Server } from '../protocols/servers.js';

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

  it('--analyze prints the same report as kcap analyze of the file it wrote', () => {
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

  it('refuses a snaplen above 64 KiB as a usage error', () => {
    const r = kcap(['record', '-o', join(dir, 'x.kcap'), '-s', '70000', '-d', '1s']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/snaplen/);
  });
});
