/**
 * Unconnected UDP through the probes: dig asks a real dnsmasq on loopback. The query and the answer
 * appear on both sides with identical payloads, the 4-tuple is resolved in the kernel (UDP, ports),
 * and the sockaddr the server received from / replied to is carried in the `addr` variable field.
 */
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { openProbes } from '../../src/record/bpf/index.js';
import type { DecodedRecord } from '../../src/schema/decode.js';
import { decodeAll, describeBpf, drainAll, freePort, spawnTraced } from '../helpers/bpf.js';

const bytes = (r: DecodedRecord, v: string) => Buffer.from((r.vars[v] as Uint8Array | undefined) ?? []);
/** Port of a sockaddr_in (network byte order at offset 2). */
const sockaddrPort = (sa: Buffer) => (sa.length >= 4 && sa.readUInt16LE(0) === 2 ? sa.readUInt16BE(2) : -1);

describeBpf('BPF probes: DNS over UDP (dnsmasq and dig)', () => {
  it('records the query and the answer on both sides, with addresses', async () => {
    execFileSync('bash', ['scripts/ensure-packages.sh', 'dnsmasq', 'bind9-dnsutils'], { stdio: 'inherit' });
    const port = await freePort();
    const probes = openProbes({ pids: [] });
    const chunks: Buffer[] = [];
    let digOut = '';
    let digPid = 0;
    let serverPid = 0;
    try {
      const server = spawnTraced(`dnsmasq --no-daemon --port=${port} --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts --address=/test.kcap/10.1.2.3`, probes);
      serverPid = server.pid;
      try {
        await new Promise((r) => setTimeout(r, 300));
        const dig = spawnTraced(`dig @127.0.0.1 -p ${port} test.kcap +tries=1 +time=3`, probes);
        digPid = dig.pid;
        expect(await dig.exited).toBe(0);
        digOut = dig.stdout();
      } finally {
        server.child.kill('SIGTERM');
        await server.exited;
      }
      await drainAll(probes, chunks);
    } finally {
      probes.close();
    }
    expect(digOut).toMatch(/ANSWER: 1,/);
    expect(digOut).toMatch(/test\.kcap\.\s+0\s+IN\s+A\s+10\.1\.2\.3/);

    const udp = decodeAll(chunks).filter((r) => r.event.category === 'io' && r.fields.l4proto === 17 && Number(r.fields.res) > 0);
    const query = udp.find((r) => r.pid === digPid && r.event.dir === 'out' && r.fields.rport === port);
    const received = udp.find((r) => r.pid === serverPid && r.event.dir === 'in' && r.fields.lport === port);
    const answer = udp.find((r) => r.pid === serverPid && r.event.dir === 'out' && r.fields.lport === port);
    const gotAnswer = udp.find((r) => r.pid === digPid && r.event.dir === 'in' && r.fields.rport === port);
    for (const [what, r] of Object.entries({ query, received, answer, gotAnswer })) expect(r, what).toBeDefined();

    expect(query!.fields.family).toBe(2);
    expect(bytes(received!, 'data').equals(bytes(query!, 'data'))).toBe(true);
    expect(bytes(gotAnswer!, 'data').equals(bytes(answer!, 'data'))).toBe(true);
    expect(bytes(answer!, 'data').includes(Buffer.from([10, 1, 2, 3]))).toBe(true);
    // Same DNS transaction id on both messages.
    expect(bytes(answer!, 'data').readUInt16BE(0)).toBe(bytes(query!, 'data').readUInt16BE(0));
    // The server learns the client's address from the kernel (recvmsg msg_name) and replies to it.
    expect(sockaddrPort(bytes(received!, 'addr'))).toBe(query!.fields.lport);
    expect(sockaddrPort(bytes(answer!, 'addr'))).toBe(query!.fields.lport);
  });
});
