/**
 * What `kcap record FILTER` asks the BPF programs to drop (ioNeeds): the needs of typical filters,
 * and the property that matters, over random filters on the generated session: every data call a
 * filter selects passes the programs' check (modelled here on io_may_keep in
 * native/bpf/kcap_common.h, the fd seen as a socket exactly when its record carries a tuple), so
 * dropping in the kernel never loses an event the filter keeps. test/record/bpf-pushdown.test.ts
 * runs the real programs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileNode, ioNeeds, parseFilter, type IoNeeds } from '../../src/filter/index.js';
import type { KEvent } from '../../src/probe/event.js';
import { replay } from '../../src/probe/replay.js';
import { buildScenario } from '../probe/scenario.js';
import { filterExpressions, SCENARIO_ATOMS } from './expressions.js';

const NEEDS: [string, IoNeeds][] = [
  ['fd.sport = 6379', { sockets: true, ports: [6379] }],
  ['fd.sport in (443, 80) and proc.name = nginx', { sockets: true, ports: [80, 443] }],
  ['fd.sport = 80 or fd.cport = 5432', { sockets: true, ports: [80, 5432] }],
  ['fd.lport = 80 and fd.rport in (1, 2, 3)', { sockets: true, ports: [80] }],
  ['fd.sport = 80 or fd.type = file', { sockets: false, ports: [] }],
  ['fd.sport = 80 or fd.l4proto = udp', { sockets: true, ports: [] }],
  ['not fd.sport = 80', { sockets: false, ports: [] }],
  ['fd.sport != 80', { sockets: true, ports: [] }],
  ['fd.sport > 1024', { sockets: true, ports: [] }],
  ['fd.sport in (9, 8, 7, 6, 5, 4, 3, 2, 1)', { sockets: true, ports: [1, 2, 3, 4, 5, 6, 7, 8, 9] }],
  ['fd.sport = 0', { sockets: true, ports: [] }],
  ['fd.type in (ipv4, ipv6)', { sockets: true, ports: [] }],
  ['fd.type in (ipv4, pipe)', { sockets: false, ports: [] }],
  ['fd.type != file', { sockets: false, ports: [] }],
  ['evt.category = net', { sockets: true, ports: [] }],
  ['evt.category = ipc', { sockets: false, ports: [] }],
  ['fd.cip exists', { sockets: true, ports: [] }],
  ['proc.name = redis-server and evt.is_io = true', { sockets: false, ports: [] }],
];

describe('what a record filter needs of I/O events', () => {
  it.each(NEEDS)('%s', (filter, needs) => {
    expect(ioNeeds(parseFilter(filter))).toEqual(needs);
  });
});

/** The calls whose programs check the needs (io_kept in native/bpf/kcap.bpf.c). */
const DATA_CALLS = new Set(['read', 'write', 'pread64', 'pwrite64', 'readv', 'writev', 'sendto', 'recvfrom', 'sendmsg', 'recvmsg']);
const IPPROTO_TCP = 6;

/** io_may_keep, on what the record of `ev` carries. */
function programsKeep(needs: IoNeeds, ev: KEvent): boolean {
  const o = ev.layout.off;
  const view = new DataView(ev.bytes.buffer, ev.bytes.byteOffset + ev.offset);
  const family = view.getUint16(o.family, true);
  if (family === 0) return !needs.sockets;
  const [l4, lport, rport] = [view.getUint8(o.l4proto), view.getUint16(o.lport, true), view.getUint16(o.rport, true)];
  if (needs.ports.length === 0 || l4 !== IPPROTO_TCP || lport === 0 || rport === 0) return true;
  return needs.ports.includes(lport) || needs.ports.includes(rport);
}

describe('dropping in the kernel keeps what the filter selects', () => {
  const { builder } = buildScenario();
  const expr = filterExpressions(SCENARIO_ATOMS);

  it('every data call a random filter selects passes the programs\' check', async () => {
    let checked = 0;
    let dropped = 0;
    await fc.assert(fc.asyncProperty(expr, async (text) => {
      const tree = parseFilter(text);
      const needs = ioNeeds(tree);
      const selects = compileNode(tree);
      await replay(builder.source(3), (ev) => {
        if (!DATA_CALLS.has(ev.name)) return;
        const kept = programsKeep(needs, ev);
        if (selects(ev)) {
          expect(kept, `${text}: event ${ev.num} (${ev.name})`).toBe(true);
          checked++;
        } else if (!kept) {
          dropped++;
        }
      });
    }), { numRuns: 150 });
    // The property was exercised, and the needs do drop what filters reject.
    expect(checked).toBeGreaterThan(100);
    expect(dropped).toBeGreaterThan(100);
  });
});
