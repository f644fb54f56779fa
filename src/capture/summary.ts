/**
 * What `kcap info` shows about a capture, as plain data: header, machine, time range (boot ns
 * and UTC), records by event type, table sizes, losses, compression. Reading it decompresses
 * every chunk once (event counts need the records), one chunk at a time.
 */
import { utcText } from '../report/units.js';
import { recordLen, recordType } from '../schema/header.generated.js';
import { recordsView } from './chunk.js';
import { bootToUtcNs } from './source.js';
import type { CaptureReader } from './reader.js';
import { TABLE_KINDS } from './tables.js';

export interface EventTypeCount {
  readonly type: number;
  readonly name: string;
  readonly count: number;
}

export interface CaptureSummary {
  readonly path: string;
  readonly formatVersion: string;
  readonly writer: string;
  readonly command: readonly string[];
  readonly schemaVersion: number;
  readonly machine: CaptureReader['machine'];
  readonly snaplen: number;
  readonly time: {
    readonly firstTs: string;
    readonly lastTs: string;
    readonly firstUtc: string;
    readonly lastUtc: string;
    readonly durationNs: string;
  } | null;
  readonly chunks: number;
  readonly records: number;
  /** By event id, ascending. */
  readonly events: readonly EventTypeCount[];
  readonly tables: Readonly<Record<string, number>>;
  /** Kernel drops: from the final STATS when present, else the sum the chunks carry. */
  readonly lost: number;
  readonly fileBytes: number;
  readonly rawBytes: number;
  readonly compressedBytes: number;
  /** rawBytes / compressedBytes, 2 decimals; 0 without events. */
  readonly compressionRatio: number;
  /** True when chunks came from the trailer's index, false when found by scanning. */
  readonly indexed: boolean;
  readonly problems: readonly string[];
}

export async function summarize(reader: CaptureReader): Promise<CaptureSummary> {
  const byType = new Map<number, number>();
  let records = 0;
  let lostInChunks = 0;
  for await (const chunk of reader.chunks()) {
    records += chunk.count;
    lostInChunks += chunk.lostBefore;
    const view = recordsView(chunk.records);
    for (let off = 0; off < view.byteLength; off += recordLen(view, off)) {
      const type = recordType(view, off);
      byType.set(type, (byType.get(type) ?? 0) + 1);
    }
  }
  const events = [...byType].sort((a, b) => a[0] - b[0])
    .map(([type, count]) => ({ type, name: reader.schema.byId.get(type)?.name ?? `type${type}`, count }));
  const rawBytes = reader.index.reduce((n, e) => n + e.rawLength, 0);
  const compressedBytes = reader.index.reduce((n, e) => n + e.blockSize, 0);
  const range = reader.timeRange();
  const tables: Record<string, number> = {};
  for (const kind of TABLE_KINDS) tables[kind] = reader.tables[kind].length;
  for (const [kind, n] of [...reader.otherTables].sort()) tables[kind] = n;
  const h = reader.header;
  return {
    path: reader.path,
    formatVersion: `${reader.format.major}.${reader.format.minor}`,
    writer: `${h.writer.name} ${h.writer.version}`.trim(),
    command: h.command,
    schemaVersion: reader.schema.version,
    machine: reader.machine,
    snaplen: reader.snaplen,
    time: range ? {
      firstTs: range.firstTs.toString(), lastTs: range.lastTs.toString(),
      firstUtc: utcText(bootToUtcNs(reader.clock, range.firstTs)), lastUtc: utcText(bootToUtcNs(reader.clock, range.lastTs)),
      durationNs: (range.lastTs - range.firstTs).toString(),
    } : null,
    chunks: reader.index.length,
    records,
    events,
    tables,
    lost: reader.stats?.final ? reader.stats.lost : Math.max(lostInChunks, reader.stats?.lost ?? 0),
    fileBytes: reader.size,
    rawBytes,
    compressedBytes,
    compressionRatio: compressedBytes ? Math.round((rawBytes / compressedBytes) * 100) / 100 : 0,
    indexed: reader.indexed,
    problems: reader.problems.map((p) => `${p.message} (${p.block !== undefined ? `block ${p.block}, ` : ''}offset ${p.offset})`),
  };
}
