/**
 * `kcap requests` on the shipped samples (real captures): it lists exactly the requests the
 * analyze report counts, by protocol, operation and status; L7 filters select what
 * samples/EXPECTED.json says the clients did, and `kcap analyze` with the same filter agrees;
 * --json lines parse and carry the same counts; mixes the filter cannot mean are refused; the
 * output is the same bytes on every run and under any TZ or LANG. Needs no root.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RequestRow } from '../../src/report/requests.js';
import { analyzeJson, countByOperation, countByStatus, kcap } from '../helpers/cli.js';

const SAMPLES = new URL('../../samples/', import.meta.url).pathname;
const EXPECTED = JSON.parse(readFileSync(join(SAMPLES, 'EXPECTED.json'), 'utf8')) as
  Record<string, Record<string, { operations?: Record<string, number>; statuses?: Record<string, number> }>>;

async function requests(file: string, args: readonly string[] = [], env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await kcap(['requests', join(SAMPLES, file), ...args], env);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  return r.stdout;
}

async function rows(file: string, args: readonly string[] = []): Promise<RequestRow[]> {
  const out = await requests(file, [...args, '--json']);
  return out === '' ? [] : out.trimEnd().split('\n').map((l) => JSON.parse(l) as RequestRow);
}

function tally(rs: readonly RequestRow[], key: (r: RequestRow) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rs) out[key(r)] = (out[key(r)] ?? 0) + 1;
  return out;
}

describe('kcap requests on the samples', () => {
  for (const file of ['http.kcap', 'redis.kcap', 'host.kcap', 'postgres.kcap']) {
    it(`${file}: one line per request the report counts, and --json with the same counts`, async () => {
      const [text, json, report] = await Promise.all([requests(file), rows(file), analyzeJson(join(SAMPLES, file))]);
      expect(text.split('\n').length - 1).toBe(report.requests);
      expect(json).toHaveLength(report.requests);
      expect(report.requests).toBeGreaterThan(0);
      for (const p of report.protocols) {
        const mine = json.filter((r) => r.protocol === p.protocol);
        expect(tally(mine, (r) => r.operation), `${file} ${p.protocol}`).toEqual(countByOperation(report, p.protocol));
        expect(tally(mine, (r) => r.status), `${file} ${p.protocol}`).toEqual(countByStatus(report, p.protocol));
      }
      // Each text line is the JSON line's request: same time, same order.
      expect(text.trimEnd().split('\n').map((l) => l.split('  ')[0])).toEqual(json.map((r) => r.startUtc));
    });
  }

  it("http.kcap 'http.status = 404' lists exactly the 404s, as analyze with that filter counts them", async () => {
    const want = EXPECTED['http.kcap']!.http1!.statuses!['404']!;
    const found = await rows('http.kcap', ['http.status = 404']);
    expect(found).toHaveLength(want);
    expect(found.every((r) => r.status === '404' && r.fields['http.status'] === 404)).toBe(true);
    const report = await analyzeJson(join(SAMPLES, 'http.kcap'), ['http.status', '=', '404']);
    expect(report.requests).toBe(want);
    expect(countByStatus(report, 'http1')).toEqual({ 404: want });
  });

  it("redis.kcap 'redis.command = GET' lists the GETs the client sent", async () => {
    const want = EXPECTED['redis.kcap']!.redis!.operations!['GET']!;
    const found = await rows('redis.kcap', ['redis.command = GET']);
    expect(found).toHaveLength(want);
    expect(new Set(found.map((r) => r.operation))).toEqual(new Set(['GET']));
  });

  it('host.kcap: event and L7 parts together, -P by name or field prefix, and a time window', async () => {
    const host = EXPECTED['host.kcap']!;
    const curl404 = await rows('host.kcap', ['proc.name in (curl, nginx) and l7.proto = http and http.status >= 400']);
    expect(curl404).toHaveLength(host.http1!.statuses!['404']!);
    expect(curl404.every((r) => r.clientProcess === 'curl' && r.serverProcess === 'nginx')).toBe(true);
    const redis = await rows('host.kcap', ['-P', 'redis']);
    expect(tally(redis, (r) => r.operation)).toEqual(host.redis!.operations);
    const pg = await rows('host.kcap', ['l7.operation = SELECT', '-P', 'pgsql']);
    expect(pg).toHaveLength(host.postgres!.operations!['SELECT']!);
    // A filter after -P is the filter, not another protocol name; -P repeats or takes commas.
    expect(await rows('host.kcap', ['-P', 'pgsql', 'l7.operation = SELECT'])).toEqual(pg);
    const two = await rows('host.kcap', ['-P', 'redis', '-P', 'pgsql']);
    expect(two).toEqual(await rows('host.kcap', ['-P', 'redis,pgsql']));
    expect(two).toHaveLength(redis.length + (await rows('host.kcap', ['-P', 'pgsql'])).length);
    const all = await rows('host.kcap');
    const late = await rows('host.kcap', ['--from', all[5]!.startUtc]);
    expect(late).toEqual(all.filter((r) => r.startUtc >= all[5]!.startUtc));
  });

  it('refuses a mix of event and L7 fields it cannot split, and L7 fields where only events are selected', async () => {
    const file = join(SAMPLES, 'http.kcap');
    for (const cmd of ['requests', 'analyze']) {
      const r = await kcap([cmd, file, 'evt.type = read or http.status = 500']);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')[0]).toBe("kcap: filter error at column 20: 'http.status' (an L7 field) and 'evt.type' (an event field) meet under 'or': "
        + "the two kinds combine only by a top-level 'and', since events are selected before requests are made of them");
    }
    const p = await kcap(['print', file, 'http.status = 500']);
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/^kcap: filter error at column 1: 'http.status' is an L7 field/);
  });

  it('prints the same bytes on every run and under any TZ or LANG', async () => {
    const first = await requests('host.kcap');
    expect(await requests('host.kcap')).toBe(first);
    const env = { ...process.env, TZ: 'Pacific/Kiritimati', LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8' };
    expect(await requests('host.kcap', [], env)).toBe(first);
    const json = await requests('host.kcap', ['--json']);
    expect(await requests('host.kcap', ['--json'], env)).toBe(json);
  });
});
