/**
 * The analyze report stays readable on any capture: every list is cut to -n rows (the busiest,
 * in list order) with a line saying what was left out, long SQL is cut to a width in text and
 * kept whole in JSON, and JSON lists are whole unless -n is given. Checked on the shipped samples.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze, type AnalysisResult } from '../../src/analyze/analyze.js';
import { openCapture } from '../../src/capture/index.js';
import { renderJson } from '../../src/report/json.js';
import { renderText } from '../../src/report/text.js';
import { busiest } from '../../src/report/top.js';

const SAMPLES = new URL('../../samples/', import.meta.url).pathname;

async function analyzed(sample: string, top?: number): Promise<AnalysisResult> {
  const reader = await openCapture(join(SAMPLES, sample));
  try {
    return await analyze(reader, top === undefined ? {} : { top });
  } finally {
    await reader.close();
  }
}

/** The lines of one section of a text report, title excluded. */
function sectionLines(text: string, title: string): string[] {
  const start = text.split('\n\n').find((s) => s.startsWith(title));
  expect(start, title).toBeDefined();
  return start!.split('\n').slice(1).filter(Boolean);
}

describe('row limits', () => {
  it('keep the busiest rows in list order, ties to the earlier row, and count what they leave out', () => {
    const rows = [{ id: 'a', count: 1 }, { id: 'b', count: 5 }, { id: 'c', count: 2 }, { id: 'd', count: 5 }, { id: 'e', count: 2 }];
    const kept = busiest(rows, 3);
    expect(kept.rows.map((r) => r.id)).toEqual(['b', 'c', 'd']);
    expect([kept.omitted, kept.omittedRequests]).toEqual([2, 3]);
    expect(busiest(rows, 9)).toEqual({ rows, omitted: 0, omittedRequests: 0 });
    expect(busiest(rows, 0).rows).toEqual([]);
  });

  it('cut the endpoints, slowest and TCP sections of the text report and say how many rows are left out', async () => {
    const pg = await analyzed('postgres.kcap', 3);
    expect(pg.endpoints).toHaveLength(15);
    const text = renderText(pg, { top: 3 });
    const endpoints = sectionLines(text, 'ENDPOINTS');
    expect(endpoints).toHaveLength(1 + 3 + 1);
    const leftOut = pg.endpoints.reduce((n, e) => n + e.count, 0) - 3 * 20;
    expect(endpoints.at(-1)).toBe(`... 12 more rows with ${leftOut} requests (-n 15 shows all)`);
    expect(sectionLines(text, 'SLOWEST REQUESTS (top 3 of 154)')).toHaveLength(1 + 3);
    const host = await analyzed('host.kcap');
    expect(sectionLines(renderText(host), 'TCP').at(-1)).toBe('... 30 more sockets (-n 40 shows all)');
    expect(renderText(await analyzed('host.kcap', 40), { top: 40 })).not.toContain('more sockets');
  });

  it('cut long SQL in text to a width and keep it whole in JSON', async () => {
    const pg = await analyzed('postgres.kcap');
    const longest = Math.max(...pg.endpoints.map((e) => e.resource.length));
    expect(longest).toBeGreaterThan(400);
    const text = renderText(pg, { top: 20 });
    expect(Math.max(...text.split('\n').map((l) => l.length))).toBeLessThan(240);
    expect(text).toContain('INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) V…');
    const json = JSON.parse(renderJson(pg)) as AnalysisResult;
    expect(Math.max(...json.endpoints.map((e) => e.resource.length))).toBe(longest);
  });

  it('leave JSON lists whole unless a limit is given, and say in `omitted` what a limit left out', async () => {
    const pg = await analyzed('postgres.kcap');
    const whole = JSON.parse(renderJson(pg));
    expect(whole.endpoints).toHaveLength(15);
    expect(whole.omitted).toEqual({ endpoints: 0, serviceMap: 0, tcpConnections: 0 });
    const cut = JSON.parse(renderJson(pg, 4));
    expect(cut.endpoints).toEqual(busiest(pg.endpoints, 4).rows);
    expect(cut.omitted).toEqual({ endpoints: 11, serviceMap: 0, tcpConnections: 0 });
    expect(JSON.parse(renderJson(await analyzed('host.kcap'))).omitted.tcpConnections).toBe(30);
  });

  it('say that the two TCP counts are of sockets and why they differ', async () => {
    const tcp = sectionLines(renderText(await analyzed('host.kcap')), 'TCP (per socket');
    expect(tcp[0]).toBe('42 sockets reached ESTABLISHED while recording; 40 had RTT samples, retransmits or resets');
    expect(tcp[1]).toBe('(neither count holds the other: a socket opened before recording is only in the second, one closed without data only in the first)');
  });
});
