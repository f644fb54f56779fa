/**
 * Runtime decoder of raw records, driven by a resolved schema (the capture's own, so old captures
 * decode by the layout they were written with). Decoding never throws on bad bytes: it returns a
 * DecodeFailure naming what is wrong, because records come from untrusted files.
 */
import { recordCpu, recordLen, recordPid, recordTid, recordTs, recordType } from './header.generated.js';
import type { ResolvedEvent, ResolvedField, ResolvedSchema } from './schema.js';

export type FieldValue = number | bigint | Uint8Array;

export interface DecodedRecord {
  readonly type: number;
  /** Schema name of the event. */
  readonly name: string;
  readonly event: ResolvedEvent;
  readonly cpu: number;
  /** CLOCK_BOOTTIME ns; bigint because hosts stay up longer than 2^53 ns (104 days). */
  readonly ts: bigint;
  readonly pid: number;
  readonly tid: number;
  /** Fixed fields by name; u64/i64 decode to number (exact below 2^53). */
  readonly fields: Readonly<Record<string, FieldValue>>;
  /** Variable fields by name: bytes as Uint8Array views into the record, strings decoded as UTF-8. */
  readonly vars: Readonly<Record<string, Uint8Array | string>>;
  /** Total record length. */
  readonly length: number;
}

export interface DecodeFailure {
  readonly error: string;
  /** Bytes to skip to the next record, when the length field is usable; 0 when framing is lost. */
  readonly length: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function readField(view: DataView, bytes: Uint8Array, off: number, f: ResolvedField): FieldValue {
  const at = off + f.offset;
  switch (f.type) {
    case 'u8': return view.getUint8(at);
    case 'u16': return view.getUint16(at, true);
    case 'u32': return view.getUint32(at, true);
    case 'i32': return view.getInt32(at, true);
    case 'u64': return view.getUint32(at, true) + view.getUint32(at + 4, true) * 0x1_0000_0000;
    case 'i64': return view.getUint32(at, true) + view.getInt32(at + 4, true) * 0x1_0000_0000;
    case 'bytes16': return bytes.subarray(at, at + 16);
  }
}

export class RecordDecoder {
  constructor(readonly schema: ResolvedSchema) {}

  /** Decodes the record at `off` of `bytes`. */
  decode(bytes: Uint8Array, off = 0): DecodedRecord | DecodeFailure {
    const hs = this.schema.headerSize;
    if (off + hs > bytes.length) return { error: `record header truncated at offset ${off}`, length: 0 };
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const length = recordLen(view, off);
    if (length < hs) return { error: `record length ${length} is shorter than the header`, length: 0 };
    if (off + length > bytes.length) return { error: `record of ${length} bytes truncated at offset ${off}`, length: 0 };
    const type = recordType(view, off);
    const event = this.schema.byId.get(type);
    if (!event) return { error: `unknown event type ${type}`, length };
    if (length < event.minSize) return { error: `${event.name} record of ${length} bytes is shorter than its ${event.minSize}-byte fixed part`, length };
    const fields: Record<string, FieldValue> = {};
    for (const f of event.fields) fields[f.name] = readField(view, bytes, off, f);
    const vars: Record<string, Uint8Array | string> = {};
    let dataAt = off + event.minSize;
    const end = off + length;
    for (let i = 0; i < event.vars.length; i++) {
      const v = event.vars[i]!;
      const n = view.getUint32(off + event.varLensOffset + 4 * i, true);
      if (n > end - dataAt) return { error: `${event.name}.${v.name} length ${n} overruns the record`, length };
      const slice = bytes.subarray(dataAt, dataAt + n);
      vars[v.name] = v.type === 'string' ? utf8.decode(slice) : slice;
      dataAt += n;
    }
    return {
      type, name: event.name, event, length,
      cpu: recordCpu(view, off),
      ts: recordTs(view, off),
      pid: recordPid(view, off),
      tid: recordTid(view, off),
      fields, vars,
    };
  }
}

export function isDecodeFailure(r: DecodedRecord | DecodeFailure): r is DecodeFailure {
  return 'error' in r;
}
