/**
 * `kcap print -A` on a real HTTP/2 connection: nghttp (nghttp2's client and HPACK encoder)
 * fetches several paths from nginx over cleartext HTTP/2 with prior knowledge, all on one
 * connection, under `kcap record`; the printed events show every request's `:path` decoded and
 * every answer's `:status`, as many of each as nghttp's own statistics list, with no header
 * unknown (the capture saw the connection from its preface). curl 7.88 is not the client here:
 * it fails (exit 16) on the second transfer over a reused prior-knowledge connection.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBpf } from '../helpers/bpf.js';
import { kcap, recordCommand } from '../helpers/cli.js';
import { ensurePackages, removeDir, startNginx, tempDir, type Server } from '../helpers/servers.js';

const FILES = { 'a.txt': 'a\n', 'index.html': '<h1>kcap</h1>\n' };
/** Distinct URIs (nghttp fetches a repeated one once), three statuses: 200, 200 and 404. */
const ROUNDS = 3;
const PATHS = Array.from({ length: ROUNDS }, (_, r) => [`/a.txt?r=${r}`, `/index.html?q=${r}`, `/missing?r=${r}`]).flat();

/** What a list of lines holds, counted. */
function tally(lines: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of lines) out[l] = (out[l] ?? 0) + 1;
  return out;
}

describeBpf('e2e print -A: HTTP/2 from nginx and curl, decoded', () => {
  let nginx: Server | undefined;
  let work = '';

  beforeAll(async () => {
    const missing = ensurePackages('nginx', 'nghttp2-client');
    if (missing !== undefined) throw new Error(missing);
    work = tempDir('e2e-print-h2');
    nginx = await startNginx(FILES, { http2: true });
  });

  afterAll(async () => {
    await nginx?.stop();
    if (work !== '') removeDir(work);
  });

  it('shows each request path and response status as nghttp made and got them', async () => {
    const file = join(work, 'h2.kcap');
    const out = await recordCommand(file, ['nghttp', '-ns', ...PATHS.map((p) => `http://127.0.0.1:${nginx!.port}${p}`)]);
    // nghttp's statistics: "id responseEnd requestStart process code size request-path" a request.
    const said = [...out.matchAll(/^\s*\d+\s+\S+\s+\S+\s+\S+\s+(\d{3})\s+\d+\s+(\/\S*)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    expect(said.map(([, path]) => path).sort()).toEqual([...PATHS].sort());

    const r = await kcap(['print', '-A', '-q', file, 'proc.name = nghttp and fd.type = ipv4']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(tally(lines.filter((l) => l.startsWith('    :path: ')))).toEqual(tally(said.map(([, path]) => `    :path: ${path}`)));
    expect(tally(lines.filter((l) => l.startsWith('    :status: ')))).toEqual(tally(said.map(([code]) => `    :status: ${code}`)));
    expect(lines.filter((l) => l.includes('(unknown'))).toEqual([]);
    expect(lines).toContain('  client preface PRI * HTTP/2.0');
  });
});
