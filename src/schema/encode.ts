/**
 * Builds raw records exactly as the BPF programs lay them out. Used to generate test captures and
 * synthetic benchmark loads; the recorder itself never encodes (the kernel does).
 */
import { HeaderOffset } from './header.generated.js';
import type { ResolvedSchema } from './schema.js';

export interface RecordInput {
  readonly cpu?: number;
  readonly ts: bigint;
  readonly pid: number;
  readonly tid: number;
  readonly fields?: Readonly<Record<string, number | bigint | Uint8Array>>;
  readonly vars?: Readonly<Record<string, Uint8Array | string>>;
}

const utf8 = new TextEncoder();

/** Encodes one record of event `name`. Missing fields are zero, missing vars empty. */
export function encodeRecord(schema: ResolvedSchema, name: string, input: RecordInput): Uint8Array {
  const event = schema.byName.get(name);
  if (!event) throw new Error(`unknown event ${name}`);
  const vars = event.vars.map((v) => {
    const val = input.vars?.[v.name] ?? new Uint8Array(0);
    return typeof val === 'string' ? utf8.encode(val) : val;
  });
  const length = event.minSize + vars.reduce((n, v) => n + v.length, 0);
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  view.setUint32(HeaderOffset.len, length, true);
  view.setUint16(HeaderOffset.type, event.id, true);
  view.setUint16(HeaderOffset.cpu, input.cpu ?? 0, true);
  view.setBigUint64(HeaderOffset.ts, input.ts, true);
  view.setUint32(HeaderOffset.pid, input.pid, true);
  view.setUint32(HeaderOffset.tid, input.tid, true);
  for (const f of event.fields) {
    const v = input.fields?.[f.name];
    if (v === undefined) continue;
    if (f.type === 'bytes16') {
      if (!(v instanceof Uint8Array)) throw new Error(`${name}.${f.name} needs bytes`);
      out.set(v.subarray(0, 16), f.offset);
      continue;
    }
    const n = typeof v === 'bigint' ? v : BigInt(v as number);
    switch (f.type) {
      case 'u8': view.setUint8(f.offset, Number(n)); break;
      case 'u16': view.setUint16(f.offset, Number(n), true); break;
      case 'u32': view.setUint32(f.offset, Number(n), true); break;
      case 'i32': view.setInt32(f.offset, Number(n), true); break;
      case 'u64': view.setBigUint64(f.offset, n, true); break;
      case 'i64': view.setBigInt64(f.offset, n, true); break;
    }
  }
  let at = event.minSize;
  vars.forEach((v, i) => {
    view.setUint32(event.varLensOffset + 4 * i, v.length, true);
    out.set(v, at);
    at += v.length;
  });
  return out;
}
