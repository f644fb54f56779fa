/**
 * End to end on real gRPC: a python3-grpcio server and client (C core; test/e2e/clients/grpc_peer.py,
 * all four call kinds and chosen non-OK statuses) and etcd with etcdctl (grpc-go), recorded by
 * `kcap record`. The report's calls per method and status, and the per-request message counts of
 * `kcap requests --json`, must equal what the clients say they did, with only the client traced
 * and with both ends traced (each call counted once).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalysisResult } from '../../src/analyze/analyze.js';
import type { RequestRow } from '../../src/report/requests.js';
import { describeBpf } from '../helpers/bpf.js';
import { analyzeJson, countByOperation, countByStatus, recordCommand, requestRows } from '../helpers/cli.js';
import {
  DEBIAN_PYTHON, GRPC_PEER, ensurePackages, etcdctlArgs, removeDir, startEtcd, startGrpcPeer, tempDir, type Server,
} from '../helpers/servers.js';

const ROUNDS = 3;
const ETCD_KEYS = 4;

/** What grpc_peer.py's client prints: calls by method (as on the wire) and status, messages each way. */
interface Tally {
  readonly calls: Record<string, Record<string, number>>;
  readonly messages: Record<string, { readonly sent: number; readonly received: number }>;
}

/** The report's rows are `package.Service/Method`; the wire's path has a leading slash. */
const wirePath = (operation: string): string => `/${operation}`;

/** Calls per method and status, as the report counts them. */
function reportedCalls(r: AnalysisResult): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const e of r.endpoints) {
    if (e.protocol !== 'grpc') continue;
    const byStatus = (out[wirePath(e.operation)] ??= {});
    for (const s of e.statuses) byStatus[s.status] = (byStatus[s.status] ?? 0) + s.count;
  }
  return out;
}

/**
 * Messages per method summed over the requests: the client sent what the server received
 * (grpc.messages_in: into the server) and received what the server sent (grpc.messages_out).
 */
function reportedMessages(rows: readonly RequestRow[]): Record<string, { sent: number; received: number }> {
  const out: Record<string, { sent: number; received: number }> = {};
  for (const row of rows) {
    if (row.protocol !== 'grpc') continue;
    const m = (out[wirePath(row.operation)] ??= { sent: 0, received: 0 });
    m.sent += Number(row.fields['grpc.messages_in']);
    m.received += Number(row.fields['grpc.messages_out']);
  }
  return out;
}

/** The calls the client's plan makes in ROUNDS rounds (grpc_peer.py run_client), as a check on the peer itself. */
const PLANNED: Tally = {
  calls: {
    '/kcap.test.Echo/Unary': { OK: ROUNDS, NOT_FOUND: ROUNDS, INVALID_ARGUMENT: ROUNDS },
    '/kcap.test.Echo/ServerStream': { OK: ROUNDS, UNAVAILABLE: ROUNDS },
    '/kcap.test.Echo/ClientStream': { OK: ROUNDS, INVALID_ARGUMENT: ROUNDS },
    '/kcap.test.Echo/Bidi': { OK: ROUNDS, NOT_FOUND: ROUNDS },
  },
  messages: {
    '/kcap.test.Echo/Unary': { sent: 3 * ROUNDS, received: ROUNDS },
    '/kcap.test.Echo/ServerStream': { sent: 2 * ROUNDS, received: 5 * ROUNDS },
    '/kcap.test.Echo/ClientStream': { sent: 7 * ROUNDS, received: ROUNDS },
    '/kcap.test.Echo/Bidi': { sent: 7 * ROUNDS, received: 6 * ROUNDS },
  },
};

describeBpf('e2e grpc: recorded by kcap', () => {
  let work = '';
  beforeAll(() => { work = tempDir('e2e-grpc-cap'); });
  afterAll(() => { if (work !== '') removeDir(work); });

  describe('python3-grpcio server and client (C core)', () => {
    let peer: Server | undefined;

    beforeAll(async () => {
      const missing = ensurePackages('python3-grpcio');
      if (missing !== undefined) throw new Error(missing);
      peer = await startGrpcPeer();
    });
    afterAll(async () => { await peer?.stop(); });

    for (const both of [false, true]) {
      it(`counts each method's calls by status and their messages each way${both ? ', both ends traced' : ', client only'}`, async () => {
        const file = join(work, both ? 'python-both.kcap' : 'python.kcap');
        const out = await recordCommand(file, [DEBIAN_PYTHON, GRPC_PEER, 'client', '--port', String(peer!.port), '--rounds', String(ROUNDS)],
          { pids: both ? [peer!.pid] : [] });
        const tally = JSON.parse(out.trimEnd().split('\n').pop()!) as Tally;
        expect(tally).toEqual(PLANNED);
        const [r, rows] = await Promise.all([analyzeJson(file), requestRows(file)]);
        expect(reportedCalls(r)).toEqual(tally.calls);
        expect(reportedMessages(rows)).toEqual(tally.messages);
        // Every non-OK call is an error carrying the server's grpc-message.
        const failed = rows.filter((row) => row.protocol === 'grpc' && row.status !== 'OK');
        expect(failed.every((row) => row.error === `kcap test asked for ${row.status}`)).toBe(true);
        // gRPC calls are reported as grpc; the connection carrying them is HTTP/2.
        expect(r.connections.byProtocol).toEqual([{ protocol: 'http2', count: 1 }]);
        expect(r.connections.bothEndsJoined).toBe(both ? 1 : 0);
        expect(r.incomplete).toMatchObject({ lostEvents: 0, requestsWithoutResponse: 0, responsesWithoutRequest: 0, invalidFrames: 0, incompleteRecords: [] });
      });
    }
  });

  describe('etcd and etcdctl (grpc-go)', () => {
    let etcd: Server | undefined;

    beforeAll(async () => {
      const missing = ensurePackages('etcd-server', 'etcd-client');
      if (missing !== undefined) throw new Error(missing);
      etcd = await startEtcd();
    });
    afterAll(async () => { await etcd?.stop(); });

    /** One etcdctl per operation: put, get and del of each key, printing what etcdctl answered. */
    function etcdctlLoop(): string[] {
      const { args } = etcdctlArgs(etcd!.port);
      const ctl = `ETCDCTL_API=3 etcdctl ${args.join(' ')}`;
      const keys = Array.from({ length: ETCD_KEYS }, (_, i) => `kcap-e2e-${i}`);
      return ['sh', '-c', `set -e; for k in "$@"; do ${ctl} put "$k" "v-$k"; ${ctl} get --print-value-only "$k"; ${ctl} del "$k"; done`, 'sh', ...keys];
    }

    for (const both of [false, true]) {
      it(`counts the KV calls etcdctl made${both ? ', both ends traced' : ', client only'}`, async () => {
        const file = join(work, both ? 'etcd-both.kcap' : 'etcd.kcap');
        const out = (await recordCommand(file, etcdctlLoop(), { pids: both ? [etcd!.pid] : [] })).trimEnd().split('\n');
        // put prints OK, get the value, del the number deleted: each operation did what it should.
        const said = { puts: out.filter((l) => l === 'OK').length, gets: out.filter((l) => l.startsWith('v-kcap-e2e-')).length, dels: out.filter((l) => l === '1').length };
        expect(said).toEqual({ puts: ETCD_KEYS, gets: ETCD_KEYS, dels: ETCD_KEYS });
        const r = await analyzeJson(file);
        expect(countByOperation(r, 'grpc')).toEqual({
          'etcdserverpb.KV/Put': said.puts, 'etcdserverpb.KV/Range': said.gets, 'etcdserverpb.KV/DeleteRange': said.dels,
        });
        expect(countByStatus(r, 'grpc')).toEqual({ OK: 3 * ETCD_KEYS });
        expect(r.connections.byProtocol).toEqual([{ protocol: 'http2', count: 3 * ETCD_KEYS }]);
        expect(r.connections.bothEndsJoined).toBe(both ? 3 * ETCD_KEYS : 0);
        expect(r.incomplete).toMatchObject({ lostEvents: 0, requestsWithoutResponse: 0, responsesWithoutRequest: 0, incompleteRecords: [] });
      });
    }
  });
});
