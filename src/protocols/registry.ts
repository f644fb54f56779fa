/**
 * The protocols kcap knows. Adding one is a folder implementing ProtocolSpec plus one line in
 * PROTOCOLS below. Order matters only to break detection ties, so it is fixed.
 */
import { dns } from './dns/index.js';
import { COMMON_FIELDS } from './fields.js';
import { http1 } from './http1/index.js';
import { grpc, http2 } from './http2/index.js';
import { memcached } from './memcached/index.js';
import { mysql } from './mysql/index.js';
import { postgres } from './postgres/index.js';
import { redis } from './redis/index.js';
import type { Direction, FieldDef, ProtocolSpec, Transport } from './types.js';

// NEW PROTOCOL: import it above and add it here.
export const PROTOCOLS: readonly ProtocolSpec[] = [http1, redis, dns, postgres, mysql, memcached, http2, grpc];

/** Below this confidence a connection is left unparsed rather than misparsed. */
export const MIN_CONFIDENCE = 0.5;

export function protocolByName(name: string): ProtocolSpec | undefined {
  return PROTOCOLS.find((p) => p.name === name);
}

export interface Detection {
  readonly protocol: ProtocolSpec;
  readonly confidence: number;
}

/**
 * The protocol that best explains the first bytes seen in `dir` on a connection, if any is
 * confident enough. Each detector is cheap and never throws; a throwing one counts as 0.
 */
export function detectProtocol(first: Uint8Array, dir: Direction, transport: Transport,
  port?: number): Detection | undefined {
  let best: Detection | undefined;
  for (const protocol of PROTOCOLS) {
    if (!protocol.transports.includes(transport)) continue;
    let confidence = 0;
    try {
      confidence = protocol.detect(first, dir, port);
    } catch {
      confidence = 0;
    }
    if (confidence >= MIN_CONFIDENCE && (best === undefined || confidence > best.confidence)) {
      best = { protocol, confidence };
    }
  }
  return best;
}

/** Every record field: the common ones, then each protocol's, in registry order. */
export function recordFields(): readonly FieldDef[] {
  return [...COMMON_FIELDS, ...PROTOCOLS.flatMap((p) => p.fields)];
}
