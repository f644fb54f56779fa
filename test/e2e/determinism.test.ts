/**
 * Determinism on a real recording: one capture of redis-benchmark and curl against real servers,
 * analyzed (text and --json) and printed (--json) by separate kcap processes under two different
 * time zones and locales; the outputs must be byte-identical.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBpf } from '../helpers/bpf.js';
import { kcap, recordCommand } from '../helpers/cli.js';
import { ensurePackages, removeDir, startNginx, startRedis, tempDir, type Server } from '../helpers/servers.js';

const ENVS = {
  utc: { TZ: 'UTC', LANG: 'C', LC_ALL: 'C' },
  kolkata: { TZ: 'Asia/Kolkata', LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8' },
};

/** redis-benchmark requests per test; three tests (get, set, lpush), plus two curl requests. */
const N = 300;
const SENT = 3 * N + 2;

const envOf = (name: keyof typeof ENVS): NodeJS.ProcessEnv => ({ ...process.env, ...ENVS[name] });

describeBpf('e2e determinism: the same real capture gives the same bytes in any time zone and locale', () => {
  let redis: Server | undefined;
  let nginx: Server | undefined;
  let work = '';
  let file = '';

  beforeAll(async () => {
    const missing = ensurePackages('redis-server', 'redis-tools', 'nginx', 'curl');
    if (missing !== undefined) throw new Error(missing);
    work = tempDir('e2e-det');
    redis = await startRedis();
    nginx = await startNginx({ 'index.html': 'hello\n' });
    file = join(work, 'mixed.kcap');
    const base = `http://127.0.0.1:${nginx.port}`;
    await recordCommand(file, ['sh', '-c', `redis-benchmark -p ${redis.port} -n ${N} -c 3 -t get,set,lpush -q;`
      + ` curl -s -o /dev/null ${base}/ -o /dev/null ${base}/missing`], { pids: [redis.pid] });
  });

  afterAll(async () => {
    await redis?.stop();
    await nginx?.stop();
    if (work !== '') removeDir(work);
  });

  it('runs under environments that really differ for Node (local time and number format)', () => {
    const show = (name: keyof typeof ENVS): string => spawnSync(process.execPath,
      ['-e', 'process.stdout.write(new Date(0).toString() + (1234.5).toLocaleString())'], { env: envOf(name), encoding: 'utf8' }).stdout;
    expect(show('utc')).not.toBe(show('kolkata'));
  });

  for (const args of [['analyze'], ['analyze', '--json'], ['print', '--json', '-q']]) {
    it(`kcap ${args.join(' ')} prints identical bytes under TZ=UTC LANG=C and TZ=Asia/Kolkata LANG=de_DE.UTF-8`, async () => {
      const [cmd, ...opts] = args;
      const a = await kcap([cmd!, file, ...opts], envOf('utc'));
      const b = await kcap([cmd!, file, ...opts], envOf('kolkata'));
      expect(a.code).toBe(0);
      expect(b.code).toBe(0);
      expect(a.stdout.length).toBeGreaterThan(1000);
      expect(b.stdout).toBe(a.stdout);
      if (cmd === 'analyze') expect(a.stdout).toMatch(/redis/);
      if (opts.includes('--json') && cmd === 'analyze') expect(JSON.parse(a.stdout).requests).toBeGreaterThanOrEqual(SENT);
    });
  }
});
