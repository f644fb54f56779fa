/**
 * The msgpack payloads of HEADER, TABLE and STATS blocks: how they are encoded, and how an
 * untrusted one is decoded into typed values. Decoding is lenient where the format promises
 * compatibility (unknown fields are kept, fields an older writer did not know get neutral
 * defaults) and strict where a consumer would otherwise trip (wrong types drop the row and say so).
 */
import { Decoder, encode } from '@msgpack/msgpack';
import type { ClockAnchor } from './source.js';
import { TABLE_KINDS, type MachineInfo, type TableKind } from './tables.js';
import { CaptureError, asCaptureError } from './errors.js';

/** What the HEADER block says about the recording. */
export interface CaptureHeader {
  readonly writer: { readonly name: string; readonly version: string };
  readonly clock: ClockAnchor;
  readonly machine: MachineInfo;
  readonly snaplen: number;
  /** The recorder's command line, for the record. */
  readonly command: readonly string[];
  /** Raw bytes at which the writer cut chunks. */
  readonly chunkSize: number;
}

/** Counters of one recording, as the writer last saw them. */
export interface CaptureStats {
  /** Records written to the file. */
  readonly records: number;
  /** Raw (uncompressed) record bytes written. */
  readonly rawBytes: number;
  /** Events the kernel dropped, as reported to the writer (noteLost). */
  readonly lost: number;
  /** Per CPU, sorted by cpu. */
  readonly perCpu: readonly CpuStats[];
  /** True for the block close() writes; false for snapshots written during recording. */
  readonly final: boolean;
}

export interface CpuStats {
  readonly cpu: number;
  readonly records: number;
  readonly lost: number;
}

export function encodePayload(value: unknown): Uint8Array {
  return encode(value);
}

/** Decodes msgpack with every length capped by the payload size (each element takes ≥1 byte). */
export function decodePayload(p: Uint8Array, what: string): unknown {
  const cap = p.length;
  const decoder = new Decoder({ maxStrLength: cap, maxBinLength: cap, maxArrayLength: cap, maxMapLength: cap, maxExtLength: cap });
  try {
    return decoder.decode(p);
  } catch (err) {
    throw asCaptureError(err, 'corrupt', `${what} payload is not valid msgpack`);
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function str(o: Obj, key: string): string {
  return typeof o[key] === 'string' ? o[key] as string : '';
}

function num(o: Obj, key: string): number {
  return typeof o[key] === 'number' ? o[key] as number : 0;
}

function bigintText(o: Obj, key: string, what: string): bigint {
  const v = o[key];
  if (typeof v !== 'string' || !/^-?[0-9]{1,20}$/.test(v)) throw new CaptureError('corrupt', `${what}.${key} is not a decimal integer`);
  return BigInt(v);
}

export function encodeHeader(h: CaptureHeader): Uint8Array {
  return encodePayload({
    writer: h.writer,
    clock: { bootNs: h.clock.bootNs.toString(), realtimeNs: h.clock.realtimeNs.toString() },
    machine: h.machine,
    snaplen: h.snaplen,
    command: h.command,
    chunkSize: h.chunkSize,
  });
}

export function decodeHeader(p: Uint8Array): CaptureHeader {
  const o = decodePayload(p, 'HEADER');
  if (!isObj(o)) throw new CaptureError('corrupt', 'HEADER payload is not a map');
  const writer = isObj(o.writer) ? o.writer : {};
  const clock = isObj(o.clock) ? o.clock : {};
  const m = isObj(o.machine) ? o.machine : {};
  const machine: MachineInfo = {
    hostname: str(m, 'hostname'), kernelRelease: str(m, 'kernelRelease'), kernelVersion: str(m, 'kernelVersion'),
    arch: str(m, 'arch'), cpus: num(m, 'cpus'), memoryBytes: num(m, 'memoryBytes'), bootId: str(m, 'bootId'),
    ...(typeof m.os === 'string' ? { os: m.os } : {}),
  };
  return {
    writer: { name: str(writer, 'name'), version: str(writer, 'version') },
    clock: { bootNs: bigintText(clock, 'bootNs', 'HEADER clock'), realtimeNs: bigintText(clock, 'realtimeNs', 'HEADER clock') },
    machine,
    snaplen: num(o, 'snaplen'),
    command: Array.isArray(o.command) ? o.command.filter((a): a is string => typeof a === 'string') : [],
    chunkSize: num(o, 'chunkSize'),
  };
}

/** Field kinds of table rows: required ones drop the row when missing, optional ones stay absent. */
type FieldRule = 'num' | 'str' | 'strs' | 'num?' | 'str?' | 'num!' | 'str!';

const ROW_RULES: Readonly<Record<TableKind, Readonly<Record<string, FieldRule>>>> = {
  threads: {
    pid: 'num!', tid: 'num!', ppid: 'num', comm: 'str', exe: 'str', args: 'strs', uid: 'num', gid: 'num',
    startNs: 'num', pidNs: 'num', netNs: 'num', containerId: 'str', cwd: 'str?',
  },
  fds: {
    pid: 'num!', fd: 'num!', kind: 'str', name: 'str', ino: 'num', l4proto: 'str?', laddr: 'str?', lport: 'num?',
    raddr: 'str?', rport: 'num?', state: 'str?', path: 'str?',
  },
  containers: { id: 'str!', runtime: 'str', name: 'str', image: 'str', cgroup: 'str' },
  users: { uid: 'num!', name: 'str', home: 'str', shell: 'str' },
  groups: { gid: 'num!', name: 'str' },
  interfaces: { name: 'str!', index: 'num', addrs: 'strs', netNs: 'num' },
};

const DEFAULTS = { num: 0, str: '' } as const;

function fieldOk(v: unknown, rule: FieldRule): boolean {
  if (rule === 'strs') return Array.isArray(v) && v.every((s) => typeof s === 'string');
  return typeof v === (rule.startsWith('num') ? 'number' : 'string');
}

/** A row with its known fields checked and defaulted, or why it was dropped. */
export function normalizeRow(kind: TableKind, row: unknown): Obj | string {
  if (!isObj(row)) return 'row is not a map';
  const out: Obj = { ...row };
  for (const [name, rule] of Object.entries(ROW_RULES[kind])) {
    const v = row[name];
    if (v === undefined) {
      if (rule.endsWith('!')) return `row has no ${name}`;
      if (rule === 'strs') out[name] = [];
      else if (!rule.endsWith('?')) out[name] = DEFAULTS[rule as 'num' | 'str'];
      continue;
    }
    if (!fieldOk(v, rule)) return `row field ${name} has the wrong type`;
  }
  return out;
}

export interface TablePayload {
  readonly kind: string;
  readonly rows: readonly unknown[];
}

export function encodeTable(kind: TableKind, rows: readonly unknown[]): Uint8Array {
  return encodePayload({ kind, rows });
}

export function decodeTable(p: Uint8Array): TablePayload {
  const o = decodePayload(p, 'TABLE');
  if (!isObj(o) || typeof o.kind !== 'string' || !Array.isArray(o.rows)) {
    throw new CaptureError('corrupt', 'TABLE payload is not {kind, rows}');
  }
  return { kind: o.kind, rows: o.rows };
}

export function isTableKind(kind: string): kind is TableKind {
  return (TABLE_KINDS as readonly string[]).includes(kind);
}

export function encodeStats(s: CaptureStats): Uint8Array {
  return encodePayload(s);
}

export function decodeStats(p: Uint8Array): CaptureStats {
  const o = decodePayload(p, 'STATS');
  if (!isObj(o)) throw new CaptureError('corrupt', 'STATS payload is not a map');
  const perCpu = Array.isArray(o.perCpu) ? o.perCpu.filter(isObj) : [];
  return {
    records: num(o, 'records'), rawBytes: num(o, 'rawBytes'), lost: num(o, 'lost'), final: o.final === true,
    perCpu: perCpu.map((c) => ({ cpu: num(c, 'cpu'), records: num(c, 'records'), lost: num(c, 'lost') })),
  };
}
