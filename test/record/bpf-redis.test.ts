/**
 * Recorder kernel side under load: redis-server and redis-benchmark on loopback, both traced from
 * birth. Every SET the benchmark says it completed appears in the server's reads and the client's
 * writes, on connections whose 4-tuples point at each other, and nothing is lost.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openProbes, type Probes } from '../../src/record/bpf/index.js';
import type { DecodedRecord } from '../../src/schema/decode.js';
import { describeBpf, freePort, recordDuring, spawnTraced, waitForPort, type Traced } from '../helpers/bpf.js';

const REQUESTS = 20_000;
const SET = '\r\nSET\r\n';

function occurrences(hay: string, needle: string): number {
  let n = 0;
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + needle.length)) n++;
  return n;
}

const payload = (r: DecodedRecord) => Buffer.from((r.vars.data as Uint8Array | undefined) ?? []).toString('latin1');

describeBpf('BPF probes: redis-server under redis-benchmark', () => {
  let dir: string;
  let port: number;
  let probes: Probes;
  let server: Traced | undefined;
  let bench: Traced;
  let completed = 0;
  let records: DecodedRecord[] = [];

  beforeAll(async () => {
    execFileSync('bash', ['scripts/ensure-packages.sh', 'redis-server', 'redis-tools'], { stdio: 'inherit' });
    dir = mkdtempSync(join(tmpdir(), 'kcap-redis-'));
    port = await freePort();
    probes = openProbes({ pids: [], snaplen: 4096 });
    ({ result: completed, records } = await recordDuring(probes, async () => {
      try {
        server = spawnTraced(`redis-server --port ${port} --bind 127.0.0.1 --save '' --appendonly no --dir ${dir}`, probes);
        await waitForPort(port);
        bench = spawnTraced(`redis-benchmark -p ${port} -n ${REQUESTS} -c 10 -t set`, probes);
        expect(await bench.exited).toBe(0);
        return Number(/(\d+) requests completed/.exec(bench.stdout())?.[1]);
      } finally {
        server?.child.kill('SIGTERM');
        await server?.exited;
      }
    }));
  });

  afterAll(() => {
    server?.child.kill('SIGKILL');
    probes?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the benchmark completed what it was asked', () => {
    expect(completed).toBe(REQUESTS);
  });

  it('loses no event and drops no malformed record', () => {
    expect(probes.lostPerCpu()).toEqual(probes.lostPerCpu().map(() => 0));
    expect(probes.stats().malformed).toBe(0);
  });

  it('every SET is a server read and a client write, on mirrored 4-tuples', () => {
    const serverIn = records.filter((r) => r.pid === server!.pid && r.event.dir === 'in' && Number(r.fields.res) > 0 && r.fields.lport === port);
    const clientOut = records.filter((r) => r.pid === bench.pid && r.event.dir === 'out' && Number(r.fields.res) > 0 && r.fields.rport === port);
    expect(serverIn.reduce((n, r) => n + occurrences(payload(r), SET), 0)).toBe(completed);
    expect(clientOut.reduce((n, r) => n + occurrences(payload(r), SET), 0)).toBe(completed);
    const clientPorts = new Set(clientOut.map((r) => r.fields.lport));
    const serverPeers = new Set(serverIn.filter((r) => payload(r).includes(SET)).map((r) => r.fields.rport));
    for (const p of serverPeers) expect(clientPorts.has(p)).toBe(true);
    expect(serverPeers.size).toBeGreaterThanOrEqual(10); // -c 10 connections
  });

  it('samples each connection\'s RTT with tcp_probe at most every 10 ms', () => {
    const probes = records.filter((r) => r.name === 'tcp_probe' && (r.fields.lport === port || r.fields.rport === port));
    expect(probes.length).toBeGreaterThan(0);
    expect(probes.every((r) => r.fields.l4proto === 6 && r.fields.family === 2)).toBe(true);
    const bySocket = new Map<string, bigint[]>();
    for (const r of probes) {
      const key = `${r.fields.lport}-${r.fields.rport}`;
      bySocket.set(key, [...(bySocket.get(key) ?? []), r.ts]);
    }
    for (const ts of bySocket.values()) {
      for (let i = 1; i < ts.length; i++) expect(ts[i]! - ts[i - 1]!).toBeGreaterThanOrEqual(10_000_000n);
    }
  });

  it('drains the CPUs\' rings as one stream in timestamp order', () => {
    const cpus = new Set(records.map((r) => r.cpu));
    expect(cpus.size).toBe(Math.min(availableParallelism(), 2)); // client and server keep both CPUs busy
    // A record committed after a later one on another CPU was drained lands one drain late; any
    // other disorder would be a merge bug. So: few inversions, each shorter than a drain interval.
    let latest = 0n;
    let inversions = 0;
    for (const r of records) {
      if (r.ts < latest) {
        inversions++;
        expect(latest - r.ts).toBeLessThan(5_000_000n);
      } else {
        latest = r.ts;
      }
    }
    expect(inversions).toBeLessThan(records.length / 1000);
  });

  it('every reply the server wrote reached the client', () => {
    const sum = (rs: DecodedRecord[]) => rs.reduce((n, r) => n + Number(r.fields.res), 0);
    const serverOut = records.filter((r) => r.pid === server!.pid && r.event.dir === 'out' && Number(r.fields.res) > 0 && r.fields.lport === port);
    const clientIn = records.filter((r) => r.pid === bench.pid && r.event.dir === 'in' && Number(r.fields.res) > 0 && r.fields.rport === port);
    expect(sum(serverOut)).toBe(sum(clientIn));
    expect(serverOut.reduce((n, r) => n + occurrences(payload(r), '+OK\r\n'), 0)).toBe(completed);
  });
});
