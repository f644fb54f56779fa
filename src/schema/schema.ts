/**
 * The event schema: what a raw ring-buffer record looks like, for every event id.
 *
 * `formats/events.json` is the only hand-written description. This module validates a schema
 * (the built-in one, or one embedded in a capture, which is untrusted input) and resolves it into
 * byte offsets. The C header generator and the runtime decoders both work from the resolved form,
 * so the BPF programs and the TypeScript readers cannot disagree about a layout.
 *
 * Record layout (little-endian):
 *
 *   header (headerSize bytes) | fixed fields (fixedSize, a multiple of 8)
 *   | u32 length of each variable field, in order | variable field bytes, concatenated
 *
 * The header is the same in every schema (header.generated.ts, from formats/events.json), so
 * chunks are framed without one.
 */
import { RECORD_HEADER, RECORD_HEADER_SIZE } from './header.generated.js';

export type FixedType = 'u8' | 'u16' | 'u32' | 'u64' | 'i32' | 'i64' | 'bytes16';
export type VarType = 'bytes' | 'string';

export interface FieldSpec {
  readonly name: string;
  readonly type: FixedType;
  readonly fmt?: string;
  readonly desc: string;
}

export interface VarSpec {
  readonly name: string;
  readonly type: VarType;
  readonly fmt?: string;
  readonly desc: string;
}

/** A field list entry in the JSON: a field, or `{ "use": "fieldset" }`. */
export type FieldEntry = FieldSpec | { readonly use: string };

export interface EventSpec {
  readonly id: number;
  readonly name: string;
  readonly category: string;
  readonly dir?: 'in' | 'out';
  readonly fields: readonly FieldEntry[];
  readonly vars: readonly VarSpec[];
}

/** The JSON form, as in `formats/events.json` and as embedded in captures. */
export interface SchemaSpec {
  readonly $comment?: string;
  readonly version: number;
  readonly header: readonly FieldSpec[];
  readonly fieldsets: Readonly<Record<string, readonly FieldEntry[]>>;
  readonly events: readonly EventSpec[];
}

export interface ResolvedField extends FieldSpec {
  readonly offset: number;
  readonly size: number;
}

export interface ResolvedEvent {
  readonly id: number;
  readonly name: string;
  readonly category: string;
  readonly dir: 'in' | 'out' | undefined;
  /** Fields of the fixed part; offsets are from the start of the record. */
  readonly fields: readonly ResolvedField[];
  readonly fieldByName: ReadonlyMap<string, ResolvedField>;
  /** Size of the fixed part (without header). */
  readonly fixedSize: number;
  readonly vars: readonly VarSpec[];
  /** Offset of the first variable-length u32 from the start of the record. */
  readonly varLensOffset: number;
  /** Smallest valid record: header + fixed + lengths. */
  readonly minSize: number;
}

export interface ResolvedSchema {
  readonly version: number;
  readonly header: readonly ResolvedField[];
  readonly headerSize: number;
  readonly events: readonly ResolvedEvent[];
  readonly byId: ReadonlyMap<number, ResolvedEvent>;
  readonly byName: ReadonlyMap<string, ResolvedEvent>;
  readonly spec: SchemaSpec;
}

/** Thrown when a schema (possibly from an untrusted capture) is not usable. */
export class SchemaError extends Error {
  override readonly name = 'SchemaError';
}

export const FIXED_SIZES: Readonly<Record<FixedType, number>> = {
  u8: 1, u16: 2, u32: 4, u64: 8, i32: 4, i64: 8, bytes16: 16,
};
const ALIGN: Readonly<Record<FixedType, number>> = {
  u8: 1, u16: 2, u32: 4, u64: 8, i32: 4, i64: 8, bytes16: 1,
};
const VAR_TYPES: ReadonlySet<string> = new Set(['bytes', 'string']);

/** Limits that keep a hostile embedded schema from costing unbounded work. */
export const SCHEMA_LIMITS = { events: 4096, fields: 256, vars: 32, nameLength: 64, eventId: 0xffff } as const;

const NAME_RE = /^[a-z_][a-z0-9_]*$/;


function checkName(name: unknown, where: string): string {
  if (typeof name !== 'string' || name.length > SCHEMA_LIMITS.nameLength || !NAME_RE.test(name)) {
    throw new SchemaError(`${where}: invalid name ${JSON.stringify(name)?.slice(0, 80)}`);
  }
  return name;
}

function checkField(f: unknown, where: string): FieldSpec {
  if (typeof f !== 'object' || f === null) throw new SchemaError(`${where}: field is not an object`);
  const o = f as Record<string, unknown>;
  const name = checkName(o.name, where);
  if (typeof o.type !== 'string' || !(o.type in FIXED_SIZES)) {
    throw new SchemaError(`${where}.${name}: unknown fixed type ${JSON.stringify(o.type)}`);
  }
  return {
    name, type: o.type as FixedType, desc: typeof o.desc === 'string' ? o.desc : '',
    ...(typeof o.fmt === 'string' ? { fmt: o.fmt } : {}),
  };
}

function expandFields(entries: unknown, fieldsets: Record<string, unknown>, where: string, depth = 0): FieldSpec[] {
  if (!Array.isArray(entries)) throw new SchemaError(`${where}: fields is not a list`);
  if (depth > 4) throw new SchemaError(`${where}: fieldsets nested too deeply`);
  const out: FieldSpec[] = [];
  for (const e of entries) {
    if (typeof e === 'object' && e !== null && 'use' in e) {
      const use = (e as { use: unknown }).use;
      if (typeof use !== 'string' || !Object.hasOwn(fieldsets, use)) {
        throw new SchemaError(`${where}: unknown fieldset ${JSON.stringify(use)}`);
      }
      out.push(...expandFields(fieldsets[use], fieldsets, `${where}<${use}>`, depth + 1));
    } else {
      out.push(checkField(e, where));
    }
    if (out.length > SCHEMA_LIMITS.fields) throw new SchemaError(`${where}: too many fields`);
  }
  return out;
}

/** Lays fields out in order; refuses hidden padding so C and TS agree without compiler rules. */
function layout(fields: readonly FieldSpec[], start: number, where: string): ResolvedField[] {
  let off = start;
  const names = new Set<string>();
  return fields.map((f) => {
    if (names.has(f.name)) throw new SchemaError(`${where}: duplicate field ${f.name}`);
    names.add(f.name);
    if (off % ALIGN[f.type] !== 0) {
      throw new SchemaError(`${where}.${f.name}: ${f.type} at offset ${off} is misaligned; reorder or add a pad field`);
    }
    const r: ResolvedField = { ...f, offset: off, size: FIXED_SIZES[f.type] };
    off += r.size;
    return r;
  });
}

function resolveEvent(e: unknown, fieldsets: Record<string, unknown>, headerSize: number): ResolvedEvent {
  if (typeof e !== 'object' || e === null) throw new SchemaError('event is not an object');
  const o = e as Record<string, unknown>;
  const name = checkName(o.name, 'event');
  const where = `event ${name}`;
  if (typeof o.id !== 'number' || !Number.isInteger(o.id) || o.id < 1 || o.id > SCHEMA_LIMITS.eventId) {
    throw new SchemaError(`${where}: invalid id`);
  }
  const fields = layout(expandFields(o.fields, fieldsets, where), headerSize, where);
  const end = fields.length ? fields[fields.length - 1]!.offset + fields[fields.length - 1]!.size : headerSize;
  const fixedSize = end - headerSize;
  if (fixedSize % 8 !== 0) throw new SchemaError(`${where}: fixed part is ${fixedSize} bytes, not a multiple of 8`);
  if (!Array.isArray(o.vars) || o.vars.length > SCHEMA_LIMITS.vars) throw new SchemaError(`${where}: invalid vars`);
  const vars: VarSpec[] = o.vars.map((v: unknown) => {
    const vo = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
    const vname = checkName(vo.name, where);
    if (typeof vo.type !== 'string' || !VAR_TYPES.has(vo.type)) throw new SchemaError(`${where}.${vname}: unknown var type`);
    if (fields.some((f) => f.name === vname)) throw new SchemaError(`${where}: duplicate field ${vname}`);
    return {
      name: vname, type: vo.type as VarType, desc: typeof vo.desc === 'string' ? vo.desc : '',
      ...(typeof vo.fmt === 'string' ? { fmt: vo.fmt } : {}),
    };
  });
  const category = typeof o.category === 'string' ? o.category : 'other';
  const dir = o.dir === 'in' || o.dir === 'out' ? o.dir : undefined;
  return {
    id: o.id, name, category, dir, fields, fieldByName: new Map(fields.map((f) => [f.name, f])),
    fixedSize, vars, varLensOffset: end, minSize: end + 4 * vars.length,
  };
}

/** Validates and resolves a schema. Throws SchemaError (only) on any problem. */
export function resolveSchema(input: unknown): ResolvedSchema {
  if (typeof input !== 'object' || input === null) throw new SchemaError('schema is not an object');
  const o = input as Record<string, unknown>;
  if (typeof o.version !== 'number' || !Number.isInteger(o.version) || o.version < 1) {
    throw new SchemaError('schema has no valid version');
  }
  const fieldsets = (typeof o.fieldsets === 'object' && o.fieldsets !== null ? o.fieldsets : {}) as Record<string, unknown>;
  const header = layout(expandFields(o.header, fieldsets, 'header'), 0, 'header');
  // Every schema has the same header (header.generated.ts reads it without a schema).
  RECORD_HEADER.forEach(({ name, type, offset }, i) => {
    const h = header[i];
    if (h?.name !== name || h.type !== type || h.offset !== offset) {
      throw new SchemaError(`header: field ${i} must be ${name} ${type} at offset ${offset}`);
    }
  });
  if (header.length !== RECORD_HEADER.length) throw new SchemaError(`header: has ${header.length} fields, not ${RECORD_HEADER.length}`);
  const headerSize = RECORD_HEADER_SIZE;
  if (!Array.isArray(o.events) || o.events.length > SCHEMA_LIMITS.events) throw new SchemaError('invalid events list');
  const events = o.events.map((e: unknown) => resolveEvent(e, fieldsets, headerSize));
  const byId = new Map<number, ResolvedEvent>();
  const byName = new Map<string, ResolvedEvent>();
  for (const ev of events) {
    if (byId.has(ev.id)) throw new SchemaError(`event id ${ev.id} is used twice`);
    if (byName.has(ev.name)) throw new SchemaError(`event name ${ev.name} is used twice`);
    byId.set(ev.id, ev);
    byName.set(ev.name, ev);
  }
  return { version: o.version, header, headerSize, events, byId, byName, spec: input as SchemaSpec };
}
