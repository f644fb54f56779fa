/**
 * `kcap print` and `kcap fields` as a user runs them: the generated session written to a real
 * .kcap file by the capture writer, printed by the CLI in a child process. Checks that the JSON
 * output is byte-identical under different TZ and LANG, that a filter on the command line selects
 * what the library selects, and that a bad filter exits with the column.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureWriter } from '../../src/capture/index.js';
import { FIELDS, L7_FIELDS } from '../../src/filter/index.js';
import { CLOCK, MACHINE } from '../helpers/source.js';
import { buildScenario } from './scenario.js';

const root = new URL('../..', import.meta.url).pathname;
const { builder, n } = buildScenario();
let dir = '';
let file = '';

function kcap(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
    cwd: root, encoding: 'utf8', env: { ...process.env, ...env },
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kcap-print-'));
  file = join(dir, 'session.kcap');
  const w = CaptureWriter.create(file, { machine: MACHINE, clock: CLOCK, snaplen: 256, tables: builder.tables, chunkSize: 512 });
  for await (const chunk of builder.source().chunks()) w.append(chunk.records);
  w.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kcap print', () => {
  it('prints identical JSON bytes whatever the time zone and locale', () => {
    const a = kcap(['print', '--json', '-q', file], { TZ: 'America/Los_Angeles', LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8' });
    const b = kcap(['print', '--json', '-q', file], { TZ: 'Asia/Kolkata', LANG: 'C', LC_ALL: 'C' });
    expect(a.status).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const lines = a.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(builder.count - 2);
    expect(lines[0].time).toBe('2023-11-14T22:13:21.000000000Z');
  });

  it('takes the filter from the remaining arguments and reports the totals on stderr', () => {
    const r = kcap(['print', file, 'proc.name', '=', 'nginx', 'and', 'evt.is_io=true']);
    expect(r.status).toBe(0);
    expect(r.stdout.trimEnd().split('\n').map((l) => Number(l.split(' ')[0]))).toEqual([n.requestIn, n.log, n.response, n.missed, n.eof]);
    expect(r.stderr).toContain(`${builder.count} records, ${builder.count - 2} events, 5 selected, 2 dropped`);
  });

  it('keeps uninformative records with --all', () => {
    const r = kcap(['print', '--all', '-q', file, 'evt.failed=true']);
    expect(r.stdout.trimEnd().split('\n').map((l) => Number(l.split(' ')[0]))).toEqual([n.eagain, n.refused]);
  });

  it('exits 2 and points at the column of a filter mistake', () => {
    const r = kcap(['print', file, 'fd.sport > http']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('kcap: filter error at column 12: fd.sport is a number');
    expect(r.stderr).toContain('fd.sport > http\n           ^');
  });

  it('says which file it could not read', () => {
    const r = kcap(['print', join(dir, 'missing.kcap')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^kcap: .*missing\.kcap: cannot open/);
  });
});

describe('kcap fields', () => {
  it('lists every field once with its description', () => {
    const r = kcap(['fields', '--json']);
    const listed = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(listed.map((f) => f.name)).toEqual([...FIELDS, ...L7_FIELDS].map((f) => f.name));
    expect(listed.every((f) => f.desc.length > 0)).toBe(true);
  });
});
