/**
 * End to end on a real recording: dnsmasq on loopback, dig over UDP and TCP run under
 * `kcap record`, then `kcap analyze --json`; every question dig printed (name, type) must appear
 * with the rcode dig printed, NOERROR and NXDOMAIN alike.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBpf } from '../helpers/bpf.js';
import { analyzeJson, recordCommand } from '../helpers/cli.js';
import { ensurePackages, removeDir, startDnsmasq, tempDir, type Server } from '../helpers/servers.js';

/** [name, type]; dnsmasq knows only the first two names (NXDOMAIN for the rest of kcap.test). */
const QUERIES = [
  ['web.kcap.test', 'A'], ['db.kcap.test', 'A'], ['web.kcap.test', 'AAAA'], ['nope.kcap.test', 'A'],
  ['gone.kcap.test', 'MX'], ['web.kcap.test', 'TXT'],
] as const;

/** dig's own account of each answer: "->>HEADER<<- ... status: RCODE" then the question line. */
function digSaid(out: string): { key: string; transport: string }[] {
  const answers = out.split(';; Got answer:').slice(1);
  return answers.map((a) => {
    const rcode = /status: (\w+)/.exec(a)![1]!;
    const q = /;; QUESTION SECTION:\n;(\S+)\.\s+IN\s+(\w+)/.exec(a)!;
    const transport = /;; SERVER: .*\((UDP|TCP)\)/.exec(a)![1]!;
    return { key: `QUERY ${q[2]} ${q[1]} ${rcode}`, transport };
  });
}

function tally(keys: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}

describeBpf('e2e dns: dnsmasq and dig over UDP and TCP recorded by kcap', () => {
  let server: Server | undefined;
  let work = '';

  beforeAll(async () => {
    const missing = ensurePackages('dnsmasq', 'bind9-dnsutils');
    if (missing !== undefined) throw new Error(missing);
    work = tempDir('e2e-dns-cap');
    server = await startDnsmasq({ local: 'kcap.test', addresses: { 'web.kcap.test': '10.1.2.3', 'db.kcap.test': '10.1.2.4' } });
  });

  afterAll(async () => {
    await server?.stop();
    if (work !== '') removeDir(work);
  });

  it('reports every query dig made over UDP and TCP with its name, type and rcode', async () => {
    const file = join(work, 'dig.kcap');
    const digs = ['', '+tcp'].flatMap((mode) =>
      QUERIES.map(([name, type]) => `dig @127.0.0.1 -p ${server!.port} ${mode} ${name} ${type}`));
    const said = digSaid(await recordCommand(file, ['sh', '-c', digs.join('; ')]));
    expect(said).toHaveLength(2 * QUERIES.length);
    expect(tally(said.map((s) => s.transport))).toEqual({ UDP: QUERIES.length, TCP: QUERIES.length });
    const rcodes = tally(said.map((s) => s.key.split(' ')[3]!));
    expect(Object.keys(rcodes).sort()).toEqual(['NOERROR', 'NXDOMAIN']);

    const r = await analyzeJson(file);
    const reported: string[] = [];
    for (const e of r.endpoints.filter((x) => x.protocol === 'dns')) {
      for (const s of e.statuses) for (let i = 0; i < s.count; i++) reported.push(`${e.operation} ${e.resource} ${s.status}`);
    }
    expect(tally(reported)).toEqual(tally(said.map((s) => s.key)));
    const nx = r.endpoints.filter((e) => e.statuses.some((s) => s.status === 'NXDOMAIN'));
    expect(nx.reduce((n, e) => n + e.errors, 0)).toBe(rcodes.NXDOMAIN);
    expect(r.serviceMap.map((s) => [s.client, s.server])).toEqual([['dig', `127.0.0.1:${server!.port}`]]);
    expect(r.incomplete).toMatchObject({ lostEvents: 0, requestsWithoutResponse: 0, responsesWithoutRequest: 0, invalidFrames: 0 });
  });
});
