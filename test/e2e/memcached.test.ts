/**
 * End to end on a real recording: memcached on loopback, a text-protocol client (clients/
 * memcached-text.mjs, which prints every command and the reply it got) and memcslap run under
 * `kcap record`, then `kcap analyze --json`; commands, hits, misses and errors must match.
 */
import { resourceGroup } from '../../src/analyze/group.js';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBpf } from '../helpers/bpf.js';
import { analyzeJson, countByOperation, recordCommand } from '../helpers/cli.js';
import { ensurePackages, removeDir, startMemcached, tempDir, type Server } from '../helpers/servers.js';

const CLIENT = new URL('./clients/memcached-text.mjs', import.meta.url).pathname;
const KEYS = 200;

/** What a reply's first word means for the request, as memcached's protocol.txt defines it. */
function replyStatus(verb: string, word: string): string {
  if (word === 'ERROR') return 'error';
  if (verb === 'get') return word === 'VALUE' ? 'hit' : 'miss';
  return /^\d+$/.test(word) ? 'ok' : word.toLowerCase();
}

describeBpf('e2e memcached: memcached, a text client and memcslap recorded by kcap', () => {
  let server: Server | undefined;
  let work = '';

  beforeAll(async () => {
    const missing = ensurePackages('memcached', 'libmemcached-tools');
    if (missing !== undefined) throw new Error(missing);
    work = tempDir('e2e-mc-cap');
    server = await startMemcached();
  });

  afterAll(async () => {
    await server?.stop();
    if (work !== '') removeDir(work);
  });

  it('reports each command of a text-protocol client with the reply it got', async () => {
    const file = join(work, 'text.kcap');
    const out = await recordCommand(file, [process.execPath, CLIENT, String(server!.port), String(KEYS)]);
    const said = out.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string, string]);
    expect(said.length).toBeGreaterThan(2 * KEYS);
    const ops: Record<string, number> = {};
    const statuses: Record<string, number> = {};
    for (const [verb, , word] of said) {
      ops[verb.toUpperCase()] = (ops[verb.toUpperCase()] ?? 0) + 1;
      const s = replyStatus(verb, word);
      statuses[s] = (statuses[s] ?? 0) + 1;
    }
    const r = await analyzeJson(file);
    expect(countByOperation(r, 'memcached')).toEqual(ops);
    const reported: Record<string, number> = {};
    for (const e of r.endpoints) for (const s of e.statuses) reported[s.status] = (reported[s.status] ?? 0) + s.count;
    expect(reported).toEqual(statuses);
    // Resources are the keys the client named, identifiers folded (e2e:17 → e2e:?).
    const getKeys = new Set(said.filter(([v]) => v === 'get').map(([, k]) => resourceGroup('memcached', k)));
    expect(new Set(r.endpoints.filter((e) => e.operation === 'GET').map((e) => e.resource))).toEqual(getKeys);
    const bogus = r.endpoints.find((e) => e.operation === 'BOGUS')!;
    expect([bogus.count, bogus.errors]).toEqual([1, 1]);
    expect(r.incomplete).toMatchObject({ lostEvents: 0, requestsWithoutResponse: 0, responsesWithoutRequest: 0, invalidFrames: 0 });
  });

  it('counts the sets and gets memcslap says it made', async () => {
    const file = join(work, 'memcslap.kcap');
    const out = await recordCommand(file, ['memcslap', `--servers=127.0.0.1:${server!.port}`, '--concurrency=2',
      '--execute-number=300', '--test=get']);
    const sets = Number(/Time to set\s+(\d+) keys/.exec(out)![1]);
    const gets = Number(/Time to get\s+(\d+) keys/.exec(out)![1]);
    const r = await analyzeJson(file);
    const ops = countByOperation(r, 'memcached');
    expect([ops.SET, ops.GET]).toEqual([sets, gets]);
    const getStatuses = r.endpoints.filter((e) => e.operation === 'GET').flatMap((e) => e.statuses);
    expect(getStatuses.reduce((n, s) => n + s.count, 0)).toBe(gets);
    expect(r.incomplete).toMatchObject({ lostEvents: 0, requestsWithoutResponse: 0, responsesWithoutRequest: 0 });
  });
});
