/**
 * Parse throughput of each L7 protocol on real recorded traffic: every protocol's real server and
 * a load-generating client run on 127.0.0.1 through the test relay, the relay's recorded chunks
 * are then parsed repeatedly (fresh parsers each pass) and MB/s and records/s printed.
 *
 *   npx tsx bench/protocols.bench.ts [protocol … | pathological]
 *
 * Recording needs root (packages, servers) like the tests; parsing is measured after the servers
 * have stopped, on one core, so the figures are the parser's alone.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROTOCOLS, protocolByName } from '../src/protocols/index.js';
import type { L7Record, Transport } from '../src/protocols/index.js';
import { tcpRelay, udpRelay } from '../test/helpers/relay.js';
import type { Chunk, Relay } from '../test/helpers/relay.js';
import {
  DEBIAN_PYTHON, ensurePackages, GRPC_PEER, PG_BIN, startDnsmasq, startGrpcPeer, startMariadb, startMemcached, startNginx,
  startPostgres, startRedis,
} from '../test/helpers/servers.js';
import type { Server } from '../test/helpers/servers.js';

const run = promisify(execFile);
const opts = { timeout: 300_000, maxBuffer: 64 << 20 };

interface Workload {
  /** The row's name, when not the parser's (gRPC is parsed by http2). */
  readonly name?: string;
  readonly protocol: string;
  readonly transport: Transport;
  readonly packages: readonly string[];
  /** What generated the traffic, printed with the figures. */
  readonly client: string;
  start(): Promise<Server>;
  drive(port: number, server: Server): Promise<void>;
}

const WORKLOADS: readonly Workload[] = [
  {
    protocol: 'http1', transport: 'stream', packages: ['nginx', 'wrk'], client: 'wrk -t1 -c4 -d3s (small page, keep-alive)',
    start: () => startNginx({ 'index.html': '<h1>kcap</h1>\n'.repeat(20) }),
    drive: async (port) => { await run('wrk', ['-t1', '-c4', '-d3s', `http://127.0.0.1:${port}/index.html`], opts); },
  },
  {
    protocol: 'redis', transport: 'stream', packages: ['redis-server', 'redis-tools'], client: 'redis-benchmark -n 100000 -t get,set -c 4 -P 16',
    start: startRedis,
    drive: async (port) => { await run('redis-benchmark', ['-p', String(port), '-n', '100000', '-t', 'get,set', '-c', '4', '-P', '16', '-q'], opts); },
  },
  {
    protocol: 'memcached', transport: 'stream', packages: ['memcached', 'libmemcached-tools'], client: 'memcslap -t set/get -e 20000',
    start: startMemcached,
    drive: async (port) => {
      for (const t of ['set', 'get']) await run('memcslap', ['-s', `127.0.0.1:${port}`, '-t', t, '-e', '20000', '-c', '1'], opts);
    },
  },
  {
    protocol: 'dns', transport: 'datagram', packages: ['dnsmasq', 'bind9-dnsutils'], client: 'dig -f (2000 queries, UDP)',
    start: startDnsmasq,
    drive: async (port, server) => {
      const names = ['test.kcap A', 'test.kcap MX', 'txt.kcap TXT', 'www.test.kcap AAAA'];
      const file = join(server.dir, 'queries');
      writeFileSync(file, Array.from({ length: 2000 }, (_, i) => names[i % names.length]).join('\n'));
      await run('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=5', '-f', file], opts);
    },
  },
  {
    protocol: 'postgres', transport: 'stream', packages: ['postgresql'], client: 'pgbench -M extended -t 1000 -c 4',
    start: startPostgres,
    drive: async (port) => {
      await run(`${PG_BIN}/pgbench`, ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-M', 'extended', '-t', '1000', '-c', '4', 'postgres'], opts);
    },
  },
  {
    protocol: 'mysql', transport: 'stream', packages: ['mariadb-server', 'mariadb-client'], client: 'mariadb-slap --number-of-queries=5000 --concurrency=4 (mixed)',
    start: startMariadb,
    drive: async (port) => {
      await run('mariadb-slap', ['-h127.0.0.1', `-P${port}`, '-ukcap', '-pkcap', '--concurrency=4', '--iterations=1',
        '--number-of-queries=5000', '--auto-generate-sql', '--auto-generate-sql-load-type=mixed'], opts);
    },
  },
  {
    protocol: 'http2', transport: 'stream', packages: ['nginx', 'nghttp2-client'], client: 'h2load -n 100000 -c 4 -m 8 (h2c, small page)',
    start: () => startNginx({ 'index.html': '<h1>kcap</h1>\n'.repeat(20) }, { http2: true }),
    drive: async (port) => { await run('h2load', ['-n', '100000', '-c', '4', '-m', '8', `http://127.0.0.1:${port}/index.html`], opts); },
  },
  {
    // gRPC rows come out of the http2 parser (the registry's grpc entry detects nothing itself).
    name: 'grpc', protocol: 'http2', transport: 'stream', packages: ['python3-grpcio'], client: 'grpc_peer.py client --rounds 300 (python3-grpcio, 4 call kinds)',
    start: startGrpcPeer,
    drive: async (port) => { await run(DEBIAN_PYTHON, [GRPC_PEER, 'client', '--port', String(port), '--rounds', '300'], opts); },
  },
];

/** Run the workload through a relay; the chunks it recorded. */
async function record(w: Workload): Promise<Chunk[]> {
  const server = await w.start();
  let relay: Relay | undefined;
  try {
    relay = w.transport === 'datagram' ? await udpRelay(server.port) : await tcpRelay(server.port);
    await w.drive(relay.port, server);
    return [...relay.chunks];
  } finally {
    await relay?.close();
    await server.stop();
  }
}

function byConnection(chunks: readonly Chunk[]): Chunk[][] {
  const out = new Map<number, Chunk[]>();
  for (const c of chunks) {
    const list = out.get(c.conn);
    if (list === undefined) out.set(c.conn, [c]);
    else list.push(c);
  }
  return [...out.values()];
}

/** One pass: every connection through a fresh parser; records produced, and how many unpaired. */
function parseAll(protocol: string, transport: Transport, byConn: readonly Chunk[][]): { records: number; unpaired: number } {
  const spec = protocolByName(protocol)!;
  let records = 0;
  let unpaired = 0;
  const count = (rs: readonly L7Record[]): void => {
    records += rs.length;
    for (const r of rs) if (r.reply === 'missing') unpaired++;
  };
  for (const chunks of byConn) {
    const p = spec.open({ transport });
    for (const c of chunks) count(p.data(c.dir, c.bytes, c.ts));
    count(p.end());
  }
  return { records, unpaired };
}

/**
 * Worst cases: 1 MiB streams of near-misses (endless HTTP heads, nested RESP arrays, text lines,
 * random bytes) fed in 64 KiB reads to every parser in both directions. What must hold is that
 * time stays linear in the input; the slowest parser/direction per input is printed.
 */
function pathological(): void {
  const text = (s: string, n: number): Uint8Array => new TextEncoder().encode(s.repeat(n));
  const inputs: [string, Uint8Array][] = [
    ['endless HTTP heads', text('GET / HTTP/1.1\r\nX: y\r\n', 48_000)],
    ['nested RESP arrays', text('*3\r\n', 262_144)],
    ['memcached-like lines', text('get a b c\r\nVALUE x 0 1\r\n', 40_000)],
    ['pseudo-random bytes', Uint8Array.from({ length: 1 << 20 }, (_, i) => (Math.imul(i, 2654435761) >>> 24) & 0xff)],
  ];
  console.log(['input', 'MB', 'slowest', 'MB/s'].join('\t'));
  for (const [name, bytes] of inputs) {
    let worst = { what: '', seconds: 0 };
    for (const spec of PROTOCOLS) {
      for (const dir of ['req', 'resp'] as const) {
        const p = spec.open();
        const t0 = process.hrtime.bigint();
        for (let off = 0; off < bytes.length; off += 65_536) p.data(dir, bytes.subarray(off, off + 65_536), 1n);
        p.end();
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        if (seconds > worst.seconds) worst = { what: `${spec.name} ${dir}`, seconds };
      }
    }
    console.log([name, (bytes.length / 1e6).toFixed(2), worst.what, (bytes.length / 1e6 / worst.seconds).toFixed(2)].join('\t'));
  }
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  console.log(`kcap protocol parse throughput — node ${process.version}, ${cpus()[0]?.model ?? '?'} (${cpus().length} cores), Linux ${release()}`);
  console.log('command: npx tsx bench/protocols.bench.ts', wanted.join(' '));
  console.log(['protocol', 'captured MB', 'conns', 'records', 'missing', 'passes', 'MB/s', 'records/s', 'traffic'].join('\t'));
  for (const w of WORKLOADS) {
    const name = w.name ?? w.protocol;
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    const skip = ensurePackages(...w.packages);
    if (skip !== undefined) { console.log(`${name}\tskipped: ${skip}`); continue; }
    const chunks = await record(w);
    const byConn = byConnection(chunks);
    const bytes = chunks.reduce((n, c) => n + c.bytes.length, 0);
    parseAll(w.protocol, w.transport, byConn); // warm-up
    let passes = 0;
    let result = { records: 0, unpaired: 0 };
    const t0 = process.hrtime.bigint();
    let elapsed = 0;
    while (passes < 3 || elapsed < 2) {
      result = parseAll(w.protocol, w.transport, byConn);
      passes++;
      elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    }
    const perPass = elapsed / passes;
    console.log([name, (bytes / 1e6).toFixed(2), byConn.length, result.records, result.unpaired, passes,
      (bytes / 1e6 / perPass).toFixed(1), Math.round(result.records / perPass), w.client].join('\t'));
  }
  if (wanted.length === 0 || wanted.includes('pathological')) pathological();
}

await main();
