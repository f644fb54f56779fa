/**
 * Event printing: the text line layout, payload styles (-A printable, -X hex), JSON lines that
 * parse back to the event's context.
 */
import { describe, expect, it } from 'vitest';
import type { KEvent } from '../../src/probe/event.js';
import { replay } from '../../src/probe/replay.js';
import { formatJson, formatLine, hexDump, printable } from '../../src/report/event.js';
import { printEvents, statsText } from '../../src/report/print.js';
import { collectEvents } from '../helpers/source.js';
import { REQUEST, RESPONSE, buildScenario } from '../probe/scenario.js';

const { builder, n } = buildScenario();

async function render(num: number, f: (ev: KEvent) => string): Promise<string> {
  let out = '';
  await replay(builder.source(), (ev) => { out = f(ev); }, { filter: (ev) => ev.num === num });
  return out;
}

describe('text lines', () => {
  it('show number, UTC time, cpu, process, ids, direction, type, fd, result and args', async () => {
    expect(await render(n.accept, (ev) => formatLine(ev, { payload: 'short' }))).toBe(
      `${n.accept} 2023-11-14T22:13:21.000002000Z 1 nginx (100:100) - accept4 fd=7(ipv4 tcp 127.0.0.1:40000->127.0.0.1:8080) res=7 latency=2500ns listen_fd=6`);
    expect(await render(n.refused, (ev) => formatLine(ev, { payload: 'short' }))).toBe(
      `${n.refused} 2023-11-14T22:13:21.000021000Z 0 ? (200:200) - connect fd=8(unknown?) res=-111(ECONNREFUSED) latency=2500ns addr=127.0.0.1:9`);
    expect(await render(n.exec, (ev) => formatLine(ev, { payload: 'short' }))).toContain('exec old_tid=300 filename="/usr/bin/logger" comm="logger" args="logger -t web"');
  });

  it('show the payload printable, in full with -A, as a hex dump with -X', async () => {
    expect(await render(n.response, (ev) => formatLine(ev, { payload: 'short' }))).toMatch(/ data=HTTP\/1\.1 200 OK\.\.\.\.$/);
    expect((await render(n.response, (ev) => formatLine(ev, { payload: 'ascii' }))).split('\n').slice(1)).toEqual(['HTTP/1.1 200 OK.', '.', '']);
    const hex = (await render(n.response, (ev) => formatLine(ev, { payload: 'hex' }))).split('\n').slice(1);
    expect(hex).toEqual(hexDump(new TextEncoder().encode(RESPONSE)).split('\n'));
    expect(hex[0]).toBe('\t0x0000:  48 54 54 50 2f 31 2e 31 20 32 30 30 20 4f 4b 0d  HTTP/1.1 200 OK.');
  });
});

describe('JSON lines', () => {
  it('carry the context and the payload (base64 by default)', async () => {
    const obj = JSON.parse(await render(n.requestIn, (ev) => formatJson(ev, { payload: 'short' })));
    expect(obj).toMatchObject({
      num: n.requestIn, type: 'read', dir: 'in', pid: 100, comm: 'nginx', container: 'c0ffee',
      fd: { num: 7, type: 'ipv4', role: 'server', l4proto: 'tcp', sip: '127.0.0.1', sport: 8080, cip: '127.0.0.1', cport: 40000 },
    });
    expect(Buffer.from(obj.data, 'base64').toString()).toMatch(/^GET \/ HTTP\/1\.1\r\n/);
    expect(BigInt(obj.ts)).toBe(1_000_000_000n + BigInt(n.requestIn - 1) * 1000n);
  });

  it('come back as plain objects through the collectEvents helper, filtered', async () => {
    const events = await collectEvents(builder.source(), 'fd.sport = 8080 and evt.dir = out');
    expect(events.map((e) => [e.num, e.comm, e.fd?.role, Buffer.from(e.data ?? '', 'base64').toString()])).toEqual([
      [n.request, '', 'client', REQUEST],
      [n.response, 'nginx', 'server', RESPONSE],
    ]);
  });

  it('print one object per selected event, and a summary of what was skipped', async () => {
    let text = '';
    const stats = await printEvents(builder.source(3), (t) => { text += t; }, { json: true, filter: (ev) => ev.isIo });
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.num)).toEqual([n.request, n.requestIn, n.log, n.response, n.responseIn, n.fileRead, n.childWrite, n.missed, n.eof, n.dnsQuery]);
    expect(statsText(stats)).toBe(`${builder.count} records, ${builder.count - 2} events, 10 selected, 2 dropped as uninformative, 0 malformed, 0 lost by the kernel`);
  });
});

describe('helpers', () => {
  it('renders non-printable bytes as dots', () => {
    expect(printable(new Uint8Array([0x41, 0, 0x0a, 0x7f, 0xff]), false)).toBe('A....');
    expect(printable(new Uint8Array([0x41, 0x0a]), true)).toBe('A\n');
  });
});
