/**
 * The record filter's needs checked by the real programs (src/filter/pushdown.ts, io_may_keep in
 * native/bpf/kcap_common.h): a traced redis-benchmark talks to two real redis-servers, reads a
 * file and writes a UDP datagram. Told to keep TCP I/O on one server's port only, the programs
 * record every request to that server and none of the other's, no file read, the UDP write (the
 * check leaves non-TCP sockets to the filter), and every state change (open, connect, close).
 * The same run without the needs records everything, so the test tells dropping from missing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openProbes, type IoKeep } from '../../src/record/bpf/index.js';
import type { DecodedRecord } from '../../src/schema/decode.js';
import { describeBpf, recordDuring, spawnTraced } from '../helpers/bpf.js';
import { ensurePackages, startRedis, type Server } from '../helpers/servers.js';

const GETS = 100;
const GET = '*2\r\n$3\r\nGET\r\n';
const text = (r: DecodedRecord) => Buffer.from((r.vars.data as Uint8Array | undefined) ?? []).toString('latin1');

describeBpf('BPF probes: the record filter\'s needs drop I/O in the kernel', () => {
  let kept: Server;
  let other: Server;

  beforeAll(async () => {
    const missing = ensurePackages('redis-server', 'redis-tools');
    if (missing) throw new Error(missing);
    [kept, other] = await Promise.all([startRedis(), startRedis()]);
  });

  afterAll(async () => {
    await kept?.stop();
    await other?.stop();
  });

  async function run(ioKeep?: IoKeep): Promise<DecodedRecord[]> {
    const probes = openProbes({ pids: [], ...(ioKeep ? { ioKeep } : {}) });
    const bench = (port: number) => `redis-benchmark -p ${port} -n ${GETS} -c 1 -t get -q >/dev/null`;
    try {
      const { records } = await recordDuring(probes, async () => {
        const t = spawnTraced(`bash -c 'cat /etc/hostname >/dev/null; ${bench(kept.port)}; ${bench(other.port)}; echo kcap-udp >/dev/udp/127.0.0.1/9'`, probes);
        expect(await t.exited, t.stdout()).toBe(0);
      });
      return records;
    } finally {
      probes.close();
    }
  }

  // hiredis sends with sendto and receives with recvfrom; the shell's writes are write.
  const gets = (recs: DecodedRecord[], port: number) => recs.filter((r) => r.name === 'sendto' && r.fields.rport === port && text(r).startsWith(GET));
  const replies = (recs: DecodedRecord[], port: number) => recs.filter((r) => r.name === 'recvfrom' && r.fields.rport === port && text(r).startsWith('$'));
  const hostnameReads = (recs: DecodedRecord[]) => recs.filter((r) => r.name === 'read' && r.fields.ino === 0 && Number(r.fields.res) > 0);
  const udpWrites = (recs: DecodedRecord[]) => recs.filter((r) => r.name === 'write' && r.fields.l4proto === 17 && text(r) === 'kcap-udp\n');
  const opens = (recs: DecodedRecord[]) => recs.filter((r) => r.name === 'openat' && String(r.vars.path) === '/etc/hostname');

  it('keeps the selected port\'s I/O and state changes, drops file reads and other TCP ports', async () => {
    const all = await run();
    expect(gets(all, kept.port)).toHaveLength(GETS);
    expect(gets(all, other.port)).toHaveLength(GETS);
    expect(hostnameReads(all).length).toBeGreaterThan(0);
    expect(udpWrites(all)).toHaveLength(1);

    const some = await run({ sockets: true, ports: [kept.port] });
    expect(gets(some, kept.port)).toHaveLength(GETS);
    // The client's reads of the replies too: both directions of the kept connection.
    expect(replies(some, kept.port).length).toBeGreaterThanOrEqual(GETS);
    expect(replies(all, other.port).length).toBeGreaterThanOrEqual(GETS);
    expect(some.filter((r) => r.event.dir !== undefined && r.fields.rport === other.port)).toEqual([]);
    expect(hostnameReads(some)).toEqual([]);
    expect(udpWrites(some)).toHaveLength(1);
    expect(opens(some)).toHaveLength(opens(all).length);
    expect(some.filter((r) => r.name === 'connect' && r.fields.rport === other.port).length).toBeGreaterThan(0);
    expect(some.filter((r) => r.name === 'close').length).toBeGreaterThan(0);
  });
});
