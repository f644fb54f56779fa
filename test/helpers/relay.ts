/**
 * A byte-recording relay for tests: real clients talk to the relay's port, the relay forwards
 * to the real server and records every chunk it moves, per connection and direction, in the
 * order it saw them, with a monotonic timestamp. Parsers are then fed exactly those bytes.
 * TCP: one recorded connection per accepted client. UDP: one "connection" per client address.
 */
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export type Dir = 'req' | 'resp';

export interface Chunk {
  readonly conn: number;
  readonly dir: Dir;
  readonly bytes: Uint8Array;
  readonly ts: bigint;
}

export interface Relay {
  readonly port: number;
  /** Every chunk moved so far, in the order the relay saw them. */
  readonly chunks: readonly Chunk[];
  /** Connection ids in order of first appearance. */
  connections(): number[];
  close(): Promise<void>;
}

function recorder(): { chunks: Chunk[]; add(conn: number, dir: Dir, b: Uint8Array): void; connections(): number[] } {
  const chunks: Chunk[] = [];
  return {
    chunks,
    add(conn, dir, b) {
      chunks.push({ conn, dir, bytes: new Uint8Array(b), ts: process.hrtime.bigint() });
    },
    connections() {
      return [...new Set(chunks.map((c) => c.conn))];
    },
  };
}

/** Relay TCP connections from a fresh local port to 127.0.0.1:`target`. */
export async function tcpRelay(target: number): Promise<Relay> {
  const rec = recorder();
  const sockets = new Set<Socket>();
  let next = 0;
  const server: Server = createServer((client) => {
    const id = next++;
    const upstream = connect({ host: '127.0.0.1', port: target });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pause();
    upstream.on('connect', () => client.resume());
    client.on('data', (b) => { rec.add(id, 'req', b); upstream.write(b); });
    upstream.on('data', (b) => { rec.add(id, 'resp', b); client.write(b); });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay has no TCP address');
  return {
    port: address.port,
    chunks: rec.chunks,
    connections: rec.connections,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** Relay UDP datagrams from a fresh local port to 127.0.0.1:`target`, one upstream socket per client. */
export async function udpRelay(target: number): Promise<Relay> {
  const rec = recorder();
  const front: UdpSocket = createSocket('udp4');
  const upstreams = new Map<string, { id: number; socket: UdpSocket }>();
  const upstreamFor = (client: RemoteInfo): { id: number; socket: UdpSocket } => {
    const key = `${client.address}:${client.port}`;
    let u = upstreams.get(key);
    if (u === undefined) {
      const socket = createSocket('udp4');
      const id = upstreams.size;
      socket.on('message', (msg) => {
        rec.add(id, 'resp', msg);
        front.send(msg, client.port, client.address);
      });
      u = { id, socket };
      upstreams.set(key, u);
    }
    return u;
  };
  front.on('message', (msg, client) => {
    const u = upstreamFor(client);
    rec.add(u.id, 'req', msg);
    u.socket.send(msg, target, '127.0.0.1');
  });
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.bind(0, '127.0.0.1', () => resolve());
  });
  return {
    port: front.address().port,
    chunks: rec.chunks,
    connections: rec.connections,
    close: async () => {
      for (const u of upstreams.values()) u.socket.close();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}
