/**
 * Reader of the running kernel's BTF (/sys/kernel/btf/vmlinux), so the recorder can hand the BPF
 * programs the struct offsets of *this* kernel (`sock.__sk_common.skc_daddr`, `task_struct.files`,
 * ...) without clang, kernel headers or a kernel module on the recording host.
 *
 * Format, per the kernel's Documentation/bpf/btf.rst:
 *
 *   header { u16 magic 0xEB9F, u8 version 1, u8 flags, u32 hdr_len,
 *            u32 type_off, u32 type_len, u32 str_off, u32 str_len }   (offsets relative to hdr end)
 *   type section: btf_type { u32 name_off, u32 info, u32 size|type } + kind-specific trailer,
 *                 back to back; type ids count from 1 (0 is void)
 *   string section: NUL-terminated names, name_off indexes into it
 *
 * The file is treated as untrusted: every offset is bounds-checked, chains of typedefs/modifiers
 * and nested anonymous members are followed a bounded number of hops, and any problem is a
 * BtfError (never a RangeError or TypeError).
 */
import { readFileSync, statSync } from 'node:fs';

export type BtfErrorCode = 'io' | 'malformed' | 'not-found' | 'bad-path' | 'bitfield';

export class BtfError extends Error {
  override readonly name = 'BtfError';
  constructor(readonly code: BtfErrorCode, message: string) {
    super(message);
  }
}

/** Where a member lives inside its outermost struct. */
export interface BtfMember {
  /** Byte offset: of the member, or for a bitfield, of the first byte holding its bits. */
  readonly offset: number;
  /** Bytes to load at `offset`: the member's size, or for a bitfield the bytes spanning its bits. */
  readonly size: number;
  /** Offset in bits from the start of the struct. */
  readonly bitOffset: number;
  /**
   * 0 for an ordinary member. For a bitfield, its width: on a little-endian kernel its value is
   * (little-endian load of `size` bytes at `offset`) >> (bitOffset & 7), masked to bitSize bits.
   */
  readonly bitSize: number;
}

const BTF_MAGIC = 0xeb9f;
const HEADER_MIN = 24;
const TYPE_HEADER = 12;
/** Larger than any real vmlinux BTF by an order of magnitude; a guard against reading a wrong file. */
const MAX_FILE_BYTES = 256 * 1024 * 1024;
/** Typedef/const chains and anonymous-member nesting in real kernels are a few levels deep. */
const MAX_HOPS = 64;

const enum Kind {
  Int = 1, Ptr = 2, Array = 3, Struct = 4, Union = 5, Enum = 6, Fwd = 7, Typedef = 8, Volatile = 9,
  Const = 10, Restrict = 11, Func = 12, FuncProto = 13, Var = 14, Datasec = 15, Float = 16,
  DeclTag = 17, TypeTag = 18, Enum64 = 19,
}
const KIND_MAX = Kind.Enum64;
const KIND_NAMES: readonly string[] = ['unknown', 'int', 'pointer', 'array', 'struct', 'union', 'enum', 'forward',
  'typedef', 'volatile', 'const', 'restrict', 'func', 'func_proto', 'var', 'datasec', 'float', 'decl_tag',
  'type_tag', 'enum64'];

/** Bytes that follow the 12-byte btf_type for a kind with `vlen` entries. */
function trailerSize(kind: number, vlen: number): number {
  switch (kind) {
    case Kind.Int: case Kind.Var: case Kind.DeclTag: return 4;
    case Kind.Array: return 12;
    case Kind.Struct: case Kind.Union: case Kind.Datasec: case Kind.Enum64: return 12 * vlen;
    case Kind.Enum: case Kind.FuncProto: return 8 * vlen;
    default: return 0;
  }
}

const isModifier = (kind: number): boolean =>
  kind === Kind.Typedef || kind === Kind.Volatile || kind === Kind.Const || kind === Kind.Restrict
  || kind === Kind.TypeTag;
const isComposite = (kind: number): boolean => kind === Kind.Struct || kind === Kind.Union;

/** Lookup preference for a bare name: the kinds sizeOf/offsetOf can mean, most specific first. */
const NAMED_KINDS: readonly number[] = [Kind.Struct, Kind.Union, Kind.Typedef, Kind.Int, Kind.Float, Kind.Enum, Kind.Enum64];
const COMPOSITE_KINDS: readonly number[] = [Kind.Struct, Kind.Union, Kind.Typedef];
const KEYWORD_KINDS: Readonly<Record<string, readonly number[]>> = {
  struct: [Kind.Struct], union: [Kind.Union], enum: [Kind.Enum, Kind.Enum64],
};

const PATH_PART = /^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$/;

export class KernelBtf {
  private readonly view: DataView;
  private readonly le: boolean;
  private readonly strStart: number;
  private readonly strLen: number;
  /** Byte offset (within the file) of type id i at index i; index 0 unused (void). */
  private readonly typeAt: Uint32Array;
  readonly typeCount: number;
  private nameIndex: Map<string, Map<number, number>> | undefined;

  /** Parses BTF bytes; throws BtfError('malformed') when the layout is inconsistent. */
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < HEADER_MIN) malformed(`file of ${bytes.length} bytes is shorter than the ${HEADER_MIN}-byte header`);
    this.le = this.view.getUint16(0, true) === BTF_MAGIC;
    if (!this.le && this.view.getUint16(0, false) !== BTF_MAGIC) {
      malformed(`bad magic 0x${this.view.getUint16(0, true).toString(16)} (want 0xeb9f)`);
    }
    const version = this.view.getUint8(2);
    if (version !== 1) malformed(`unsupported BTF version ${version}`);
    const hdrLen = this.u32(4);
    if (hdrLen < HEADER_MIN || hdrLen > bytes.length) malformed(`header length ${hdrLen} out of range`);
    const section = (name: string, offAt: number): [number, number] => {
      const start = hdrLen + this.u32(offAt);
      const len = this.u32(offAt + 4);
      if (start > bytes.length || len > bytes.length - start) {
        malformed(`${name} section [${start}, +${len}) overruns the ${bytes.length}-byte file`);
      }
      return [start, len];
    };
    const [typeStart, typeLen] = section('type', 8);
    const [strStart, strLen] = section('string', 16);

    this.strStart = strStart;
    this.strLen = strLen;
    this.typeAt = this.indexTypes(typeStart, typeLen);
    this.typeCount = this.typeAt.length - 1;
  }

  /**
   * Byte offset of `path` (dot-separated members, `[N]` array indexes allowed) inside struct or
   * union `structName`, looking through anonymous nested structs/unions. Throws BtfError
   * 'bitfield' for bitfield members (use `member()` for those), 'not-found' when missing.
   */
  offsetOf(structName: string, path: string): number {
    const m = this.member(structName, path);
    if (m.bitSize !== 0) {
      throw new BtfError('bitfield', `${structName}.${path} is a bitfield (bit ${m.bitOffset}, ${m.bitSize} bits); use member()`);
    }
    return m.offset;
  }

  /** Full location of `path` inside `structName`, bitfields included. */
  member(structName: string, path: string): BtfMember {
    let typeId = this.composite(this.lookup(structName, COMPOSITE_KINDS, 'struct, union or typedef'), structName);
    let bitOffset = 0;
    let bitSize = 0;
    const parts = path.split('.');
    for (let p = 0; p < parts.length; p++) {
      const where = `${structName}.${parts.slice(0, p + 1).join('.')}`;
      const match = PATH_PART.exec(parts[p]!);
      if (!match) throw new BtfError('bad-path', `bad member path component '${parts[p]}' in ${structName}.${path}`);
      if (p > 0) {
        if (bitSize !== 0) throw new BtfError('not-found', `${where}: parent is a bitfield`);
        typeId = this.composite(typeId, where);
      }
      const found = this.findMember(typeId, match[1]!, 0);
      if (!found) throw new BtfError('not-found', `${this.describe(typeId)} has no member '${match[1]}' (${where})`);
      bitOffset += found.bitOffset;
      bitSize = found.bitSize;
      typeId = found.type;
      for (const idx of match[2]!.matchAll(/\[(\d+)\]/g)) {
        const el = this.arrayElement(typeId, Number(idx[1]), where);
        bitOffset += el.bitOffset;
        typeId = el.type;
      }
    }
    if (bitSize === 0) {
      if (bitOffset % 8 !== 0) malformed(`${structName}.${path} sits at bit ${bitOffset}, not on a byte boundary`);
      return { offset: bitOffset / 8, size: this.sizeOfId(typeId, 0), bitOffset, bitSize };
    }
    const offset = Math.floor(bitOffset / 8);
    return { offset, size: Math.ceil(((bitOffset & 7) + bitSize) / 8), bitOffset, bitSize };
  }

  /** Size in bytes of a named type: `task_struct`, `struct sock`, `u32`, `long unsigned int`, ... */
  sizeOf(typeName: string): number {
    return this.sizeOfId(this.lookup(typeName, NAMED_KINDS, 'type'), 0);
  }

  /** True when `structName` has `path` (including as a bitfield). */
  has(structName: string, path: string): boolean {
    try {
      this.member(structName, path);
      return true;
    } catch (err) {
      if (err instanceof BtfError && err.code === 'not-found') return false;
      throw err;
    }
  }

  private u32(at: number): number {
    return this.view.getUint32(at, this.le);
  }

  /** Walks the type section once, recording where each type starts and checking it fits. */
  private indexTypes(start: number, len: number): Uint32Array {
    const offsets = new Uint32Array(Math.floor(len / TYPE_HEADER) + 1);
    const end = start + len;
    let n = 1;
    for (let at = start; at < end; n++) {
      if (end - at < TYPE_HEADER) malformed(`type ${n} header truncated at byte ${at}`);
      const info = this.u32(at + 4);
      const kind = (info >>> 24) & 0x1f;
      if (kind === 0 || kind > KIND_MAX) malformed(`type ${n} at byte ${at} has unknown kind ${kind}`);
      const size = TYPE_HEADER + trailerSize(kind, info & 0xffff);
      if (size > end - at) malformed(`type ${n} (kind ${kind}) at byte ${at} overruns the type section`);
      offsets[n] = at;
      at += size;
    }
    return offsets.slice(0, n);
  }

  private kindOf(id: number): number {
    return (this.u32(this.typeAt[id]! + 4) >>> 24) & 0x1f;
  }
  private vlenOf(id: number): number {
    return this.u32(this.typeAt[id]! + 4) & 0xffff;
  }
  private kindFlag(id: number): boolean {
    return (this.u32(this.typeAt[id]! + 4) >>> 31) === 1;
  }
  /** The size/type word: a size for ints, composites and enums, a type id for the rest. */
  private sizeOrType(id: number): number {
    return this.u32(this.typeAt[id]! + 8);
  }
  private trailer(id: number, word: number): number {
    return this.u32(this.typeAt[id]! + TYPE_HEADER + 4 * word);
  }

  private checkId(id: number, context: string): number {
    if (id === 0 || id >= this.typeAt.length) malformed(`${context} refers to type id ${id} of ${this.typeCount}`);
    return id;
  }

  private name(nameOff: number): string {
    if (nameOff >= this.strLen) malformed(`name offset ${nameOff} outside the ${this.strLen}-byte string section`);
    const from = this.strStart + nameOff;
    const to = this.bytes.indexOf(0, from);
    if (to < 0 || to >= this.strStart + this.strLen) malformed(`name at offset ${nameOff} is not NUL-terminated`);
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + from, to - from).toString('latin1');
  }
  private typeName(id: number): string {
    return this.name(this.u32(this.typeAt[id]!));
  }
  private describe(id: number): string {
    return `${KIND_NAMES[this.kindOf(id)]} ${this.typeName(id) || '(anon)'}`;
  }

  /** name → kind → first type id, for the kinds a caller can ask for by name. Built on first use. */
  private index(): Map<string, Map<number, number>> {
    if (this.nameIndex) return this.nameIndex;
    const idx = new Map<string, Map<number, number>>();
    for (let id = 1; id < this.typeAt.length; id++) {
      const kind = this.kindOf(id);
      if (!NAMED_KINDS.includes(kind)) continue;
      const nameOff = this.u32(this.typeAt[id]!);
      if (nameOff === 0) continue;
      const name = this.name(nameOff);
      let byKind = idx.get(name);
      if (!byKind) idx.set(name, byKind = new Map());
      if (!byKind.has(kind)) byKind.set(kind, id);
    }
    return this.nameIndex = idx;
  }

  /** Finds a type by name, `struct x`/`union x`/`enum x` restricting the kind. */
  private lookup(typeName: string, kinds: readonly number[], what: string): number {
    const words = typeName.trim().split(/\s+/);
    const keywordKinds = words.length > 1 ? KEYWORD_KINDS[words[0]!] : undefined;
    const name = keywordKinds ? words.slice(1).join(' ') : words.join(' ');
    const byKind = this.index().get(name);
    for (const kind of keywordKinds ?? kinds) {
      const id = byKind?.get(kind);
      if (id !== undefined) return id;
    }
    throw new BtfError('not-found', `no ${what} '${typeName}' in kernel BTF`);
  }

  /** Follows typedefs and qualifiers to the underlying type id. */
  private strip(id: number): number {
    for (let hops = 0; hops < MAX_HOPS; hops++) {
      if (!isModifier(this.kindOf(id))) return id;
      id = this.checkId(this.sizeOrType(id), `type ${id}`);
    }
    malformed(`typedef/qualifier chain from type ${id} is longer than ${MAX_HOPS}`);
  }

  private composite(id: number, where: string): number {
    const target = this.strip(id);
    if (!isComposite(this.kindOf(target))) {
      throw new BtfError('not-found', `${where} is not a struct or union (it is ${this.describe(target)})`);
    }
    return target;
  }

  /** Searches `id`'s members, descending into anonymous struct/union members as C does. */
  private findMember(id: number, wanted: string, depth: number): { bitOffset: number; bitSize: number; type: number } | undefined {
    if (depth > MAX_HOPS) malformed(`anonymous members nested deeper than ${MAX_HOPS} under type ${id}`);
    const bitfieldLayout = this.kindFlag(id);
    for (let i = 0; i < this.vlenOf(id); i++) {
      const nameOff = this.trailer(id, 3 * i);
      const type = this.checkId(this.trailer(id, 3 * i + 1), `member ${i} of ${this.describe(id)}`);
      const raw = this.trailer(id, 3 * i + 2);
      const bitOffset = bitfieldLayout ? raw & 0xffffff : raw;
      const declaredBits = bitfieldLayout ? raw >>> 24 : 0;
      if (nameOff === 0) {
        const inner = this.strip(type);
        if (!isComposite(this.kindOf(inner))) continue;
        const found = this.findMember(inner, wanted, depth + 1);
        if (found) return { ...found, bitOffset: bitOffset + found.bitOffset };
      } else if (this.name(nameOff) === wanted) {
        return { type, ...this.bitfield(type, bitOffset, declaredBits) };
      }
    }
    return undefined;
  }

  /**
   * Bitfield position of a member. Newer BTF (kind_flag set) states the width in the member;
   * older BTF encodes it in the INT type (bits narrower than the int, or an int bit offset).
   */
  private bitfield(type: number, bitOffset: number, declaredBits: number): { bitOffset: number; bitSize: number } {
    if (declaredBits !== 0) return { bitOffset, bitSize: declaredBits };
    const base = this.strip(type);
    if (this.kindOf(base) !== Kind.Int) return { bitOffset, bitSize: 0 };
    const enc = this.trailer(base, 0);
    const bits = enc & 0xff;
    const intOffset = (enc >>> 16) & 0xff;
    if (intOffset === 0 && bits === this.sizeOrType(base) * 8) return { bitOffset, bitSize: 0 };
    return { bitOffset: bitOffset + intOffset, bitSize: bits };
  }

  private arrayElement(id: number, index: number, where: string): { bitOffset: number; type: number } {
    const arr = this.strip(id);
    if (this.kindOf(arr) !== Kind.Array) throw new BtfError('not-found', `${where} is not an array`);
    const elem = this.checkId(this.trailer(arr, 0), `array type ${arr}`);
    const count = this.trailer(arr, 2);
    // Flexible array members (`fd[]`) have 0 elements; any index is the caller's business.
    if (count !== 0 && index >= count) throw new BtfError('not-found', `${where}[${index}] is past its ${count} elements`);
    return { bitOffset: index * this.sizeOfId(elem, 0) * 8, type: elem };
  }

  private sizeOfId(id: number, depth: number): number {
    if (depth > MAX_HOPS) malformed(`type ${id} is nested deeper than ${MAX_HOPS} levels`);
    const kind = this.kindOf(id);
    switch (kind) {
      case Kind.Int: case Kind.Struct: case Kind.Union: case Kind.Enum: case Kind.Enum64: case Kind.Float:
        return this.sizeOrType(id);
      case Kind.Ptr: return this.pointerSize();
      case Kind.Array:
        return this.trailer(id, 2) * this.sizeOfId(this.checkId(this.trailer(id, 0), `array type ${id}`), depth + 1);
      default:
        if (isModifier(kind)) return this.sizeOfId(this.checkId(this.sizeOrType(id), `type ${id}`), depth + 1);
        throw new BtfError('not-found', `${this.describe(id)} (kind ${kind}) has no size`);
    }
  }

  /** The kernel's pointer width: that of `long unsigned int`, 8 when BTF lacks it. */
  private pointerSize(): number {
    const ulong = this.index().get('long unsigned int')?.get(Kind.Int);
    return ulong === undefined ? 8 : this.sizeOrType(ulong);
  }
}

function malformed(message: string): never {
  throw new BtfError('malformed', `malformed BTF: ${message}`);
}

/** Parses BTF already in memory (tests, or BTF extracted from elsewhere). */
export function parseBtf(bytes: Uint8Array): KernelBtf {
  return new KernelBtf(bytes);
}

/** Reads and parses the running kernel's BTF. */
export function readKernelBtf(path = '/sys/kernel/btf/vmlinux'): KernelBtf {
  let bytes: Buffer;
  try {
    // sysfs reports the true size; a regular file bigger than any kernel's BTF is the wrong file.
    const size = statSync(path).size;
    if (size > MAX_FILE_BYTES) throw new BtfError('io', `${path}: ${size} bytes is too large for BTF`);
    bytes = readFileSync(path);
  } catch (err) {
    if (err instanceof BtfError) throw err;
    throw new BtfError('io', `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return new KernelBtf(bytes);
  } catch (err) {
    if (err instanceof BtfError) throw new BtfError(err.code, `${path}: ${err.message}`);
    throw err;
  }
}
