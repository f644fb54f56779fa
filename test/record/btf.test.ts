/**
 * The BTF reader: layout rules on a small BTF blob built here (anonymous unions, arrays, both
 * bitfield encodings, typedef cycles), the running kernel's BTF cross-checked member by member
 * against bpftool's dump of the same file, and untrusted-input behaviour (only BtfError escapes).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BtfError, type KernelBtf, parseBtf, readKernelBtf } from '../../src/record/btf.js';
import { describeWhen, missingPath, missingRoot } from '../helpers/root.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

/** Writes BTF the way the kernel lays it out, so tests do not depend on a binary fixture. */
class BtfBuilder {
  private readonly words: number[] = [];
  private strings = '\0';
  private count = 0;

  str(name: string): number {
    if (name === '') return 0;
    const at = this.strings.length;
    this.strings += `${name}\0`;
    return at;
  }

  /** Appends a type; returns its id. */
  type(kind: number, name: string, vlen: number, sizeOrType: number, trailer: number[] = [], kindFlag = false): number {
    this.words.push(this.str(name), ((kindFlag ? 1 : 0) << 31 | kind << 24 | vlen) >>> 0, sizeOrType, ...trailer);
    return ++this.count;
  }

  int(name: string, size: number, bits = size * 8, bitOffset = 0): number {
    return this.type(1, name, 0, size, [bitOffset << 16 | bits]);
  }

  composite(kind: 4 | 5, name: string, size: number, members: [string, number, number][], kindFlag = false): number {
    return this.type(kind, name, members.length, size, members.flatMap(([n, t, off]) => [this.str(n), t, off]), kindFlag);
  }

  build(): Uint8Array {
    const typeLen = this.words.length * 4;
    const strLen = this.strings.length;
    const out = new DataView(new ArrayBuffer(24 + typeLen + strLen));
    out.setUint16(0, 0xeb9f, true);
    out.setUint8(2, 1);
    out.setUint32(4, 24, true);
    out.setUint32(8, 0, true);
    out.setUint32(12, typeLen, true);
    out.setUint32(16, typeLen, true);
    out.setUint32(20, strLen, true);
    this.words.forEach((w, i) => out.setUint32(24 + 4 * i, w, true));
    for (let i = 0; i < strLen; i++) out.setUint8(24 + typeLen + i, this.strings.charCodeAt(i));
    return new Uint8Array(out.buffer);
  }
}

/** A blob exercising every path of the reader (ids in comments). */
function sampleBtf(): Uint8Array {
  const b = new BtfBuilder();
  const int = b.int('int', 4); // 1
  const uchar = b.int('unsigned char', 1); // 2
  const oldBits = b.int('unsigned int', 4, 3, 2); // 3: pre-kind_flag bitfield, 3 bits at bit 2
  const ptr = b.type(2, '', 0, int); // 4
  const arr = b.type(3, '', 0, 0, [int, int, 4]); // 5: int[4]
  const inner = b.composite(4, 'inner', 8, [['x', int, 0], ['y', int, 32]]); // 6
  const anon = b.composite(5, '', 8, [['u_a', int, 0], ['u_in', inner, 0]]); // 7
  const outer = b.composite(4, 'outer', 40, [
    ['first', ptr, 0], ['', anon, 64], ['arr', arr, 128], ['flags', uchar, 2 << 24 | 259],
  ], true); // 8
  b.type(8, 'outer_t', 0, outer); // 9
  b.type(10, '', 0, 9); // 10: const outer_t
  b.composite(4, 'legacy', 4, [['b', oldBits, 0]]); // 11
  b.type(8, 'loop_a', 0, 13); // 12
  b.type(8, 'loop_b', 0, 12); // 13
  b.composite(4, 'self', 4, [['', 14, 0]]); // 14: an anonymous member that is itself
  b.type(3, '', 0, 0, [15, int, 2]); // 15: an array of itself
  b.type(8, 'selfarr', 0, 15); // 16
  return b.build();
}

function btfError(fn: () => unknown): BtfError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BtfError);
    return err as BtfError;
  }
  throw new Error('expected a BtfError, got a result');
}

/** Calls every query; any throw other than BtfError fails the test. */
function exerciseAll(btf: KernelBtf): void {
  const queries: (() => unknown)[] = [
    () => btf.sizeOf('outer'), () => btf.sizeOf('int'), () => btf.sizeOf('selfarr'), () => btf.sizeOf('loop_a'),
    () => btf.member('outer', 'u_in.y'), () => btf.member('outer', 'arr[3]'), () => btf.member('outer', 'flags'),
    () => btf.member('legacy', 'b'), () => btf.member('self', 'x'), () => btf.has('outer_t', 'first'),
  ];
  for (const q of queries) {
    try {
      q();
    } catch (err) {
      expect(err).toBeInstanceOf(BtfError);
    }
  }
}

describe('BTF layout rules (built blob)', () => {
  const btf = parseBtf(sampleBtf());

  it('finds members directly, through anonymous unions, nested structs and array indexes', () => {
    expect(btf.typeCount).toBe(16);
    expect(btf.offsetOf('outer', 'first')).toBe(0);
    expect(btf.offsetOf('outer', 'u_a')).toBe(8);
    expect(btf.offsetOf('outer', 'u_in.y')).toBe(12);
    expect(btf.offsetOf('outer', 'arr')).toBe(16);
    expect(btf.offsetOf('outer', 'arr[2]')).toBe(24);
    expect(btf.offsetOf('struct outer', 'u_in')).toBe(8);
    expect(btf.offsetOf('outer_t', 'arr[3]')).toBe(28);
    expect(btf.member('outer', 'u_in')).toEqual({ offset: 8, size: 8, bitOffset: 64, bitSize: 0 });
  });

  it('reports bitfields in both encodings and refuses them in offsetOf', () => {
    expect(btf.member('outer', 'flags')).toEqual({ offset: 32, size: 1, bitOffset: 259, bitSize: 2 });
    expect(btf.member('legacy', 'b')).toEqual({ offset: 0, size: 1, bitOffset: 2, bitSize: 3 });
    expect(btfError(() => btf.offsetOf('outer', 'flags')).code).toBe('bitfield');
  });

  it('sizes structs, typedefs, ints and pointers', () => {
    expect(btf.sizeOf('outer')).toBe(40);
    expect(btf.sizeOf('struct outer')).toBe(40);
    expect(btf.sizeOf('outer_t')).toBe(40);
    expect(btf.sizeOf('inner')).toBe(8);
    expect(btf.sizeOf('unsigned char')).toBe(1);
    expect(btf.member('outer', 'first').size).toBe(8);
  });

  it('names what is missing', () => {
    const cases: [() => unknown, string, RegExp][] = [
      [() => btf.offsetOf('nosuch', 'x'), 'not-found', /no struct, union or typedef 'nosuch'/],
      [() => btf.offsetOf('outer', 'nosuch'), 'not-found', /struct outer has no member 'nosuch' \(outer\.nosuch\)/],
      [() => btf.offsetOf('outer', 'u_in.x.z'), 'not-found', /outer\.u_in\.x\.z is not a struct or union/],
      [() => btf.offsetOf('outer', 'arr[4]'), 'not-found', /past its 4 elements/],
      [() => btf.offsetOf('outer', 'first[0]'), 'not-found', /not an array/],
      [() => btf.offsetOf('outer', 'u_in..x'), 'bad-path', /bad member path component/],
      [() => btf.offsetOf('int', 'x'), 'not-found', /no struct, union or typedef 'int'/],
      [() => btf.offsetOf('outer_t', 'first.x'), 'not-found', /outer_t\.first\.x is not a struct or union/],
      [() => btf.sizeOf('union outer'), 'not-found', /no type 'union outer'/],
    ];
    for (const [fn, code, message] of cases) {
      const err = btfError(fn);
      expect(err.code).toBe(code);
      expect(err.message).toMatch(message);
    }
    expect(btf.has('outer', 'u_a')).toBe(true);
    expect(btf.has('outer', 'u_b')).toBe(false);
  });

  it('stops on cycles instead of recursing forever', () => {
    expect(btfError(() => btf.sizeOf('loop_a')).code).toBe('malformed');
    expect(btfError(() => btf.sizeOf('selfarr')).code).toBe('malformed');
    expect(btfError(() => btf.offsetOf('self', 'x')).code).toBe('malformed');
  });
});

describe('BTF as untrusted input', () => {
  const good = sampleBtf();

  it('rejects every truncation of a valid blob with a malformed BtfError', () => {
    for (let len = 0; len < good.length; len++) {
      const err = btfError(() => parseBtf(good.subarray(0, len)));
      expect(err.code).toBe('malformed');
    }
  });

  it('rejects a bad magic and an unknown version by name', () => {
    const badMagic = good.slice();
    badMagic[0] = 0x7f;
    expect(btfError(() => parseBtf(badMagic)).message).toMatch(/bad magic/);
    const badVersion = good.slice();
    badVersion[2] = 9;
    expect(btfError(() => parseBtf(badVersion)).message).toMatch(/unsupported BTF version 9/);
  });

  it('random bytes only ever raise BtfError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      try {
        exerciseAll(parseBtf(bytes));
      } catch (err) {
        expect(err).toBeInstanceOf(BtfError);
      }
    }), { numRuns: 500 });
  });

  it('a valid blob with corrupted bytes only ever raises BtfError', () => {
    const corruption = fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 });
    fc.assert(fc.property(corruption, (edits) => {
      const bytes = good.slice();
      for (const [at, value] of edits) bytes[at] = value;
      try {
        exerciseAll(parseBtf(bytes));
      } catch (err) {
        expect(err).toBeInstanceOf(BtfError);
      }
    }), { numRuns: 2000 });
  });

  it('names the file it could not read', () => {
    const err = btfError(() => readKernelBtf('/nonexistent/vmlinux'));
    expect(err.code).toBe('io');
    expect(err.message).toMatch(/\/nonexistent\/vmlinux/);
  });
});

describeWhen(missingPath(VMLINUX), 'the running kernel BTF', () => {
  it('has the members the recorder needs, inside their structs', () => {
    const btf = readKernelBtf();
    const needed: [string, string][] = [
      ['sock', '__sk_common.skc_daddr'], ['sock', '__sk_common.skc_rcv_saddr'], ['sock', '__sk_common.skc_dport'],
      ['sock', '__sk_common.skc_num'], ['sock', '__sk_common.skc_family'], ['sock_common', 'skc_v6_daddr'],
      ['sock_common', 'skc_v6_rcv_saddr'], ['sock', 'sk_protocol'], ['sock', 'sk_type'], ['task_struct', 'files'],
      ['task_struct', 'tgid'], ['files_struct', 'fdt'], ['fdtable', 'fd'], ['fdtable', 'max_fds'], ['file', 'private_data'],
      ['socket', 'sk'],
    ];
    for (const [struct, path] of needed) {
      const m = btf.member(struct, path);
      expect(m.offset + m.size, `${struct}.${path}`).toBeLessThanOrEqual(btf.sizeOf(struct));
    }
    // Nested path and its two-step equivalent agree.
    expect(btf.offsetOf('sock', '__sk_common.skc_daddr'))
      .toBe(btf.offsetOf('sock', '__sk_common') + btf.offsetOf('sock_common', 'skc_daddr'));
    expect(btf.member('sock_common', 'skc_v6_daddr').size).toBe(16);
    expect(btf.sizeOf('u32')).toBe(4);
    expect(btf.sizeOf('long unsigned int')).toBe(8);
  });

  it('survives random truncations of the real file', () => {
    const bytes = readFileSync(VMLINUX);
    fc.assert(fc.property(fc.nat(bytes.length - 1), (len) => {
      expect(btfError(() => parseBtf(bytes.subarray(0, len))).code).toBe('malformed');
    }), { numRuns: 50 });
  });
});

/** bpftool's raw dump: `[id] STRUCT 'name' size=N vlen=M` then one line per member. */
interface DumpedComposite {
  kind: 'struct' | 'union';
  name: string;
  size: number;
  members: { name: string; bitOffset: number; bitSize: number }[];
}

function parseBpftoolDump(text: string): DumpedComposite[] {
  const out: DumpedComposite[] = [];
  let current: DumpedComposite | undefined;
  for (const line of text.split('\n')) {
    const head = /^\[\d+\] (STRUCT|UNION) '([^']*)' size=(\d+)/.exec(line);
    if (head) {
      out.push(current = { kind: head[1] === 'STRUCT' ? 'struct' : 'union', name: head[2]!, size: Number(head[3]), members: [] });
      continue;
    }
    const member = /^\t'([^']+)' type_id=\d+ bits_offset=(\d+)(?: bitfield_size=(\d+))?/.exec(line);
    if (member && current) {
      current.members.push({ name: member[1]!, bitOffset: Number(member[2]), bitSize: Number(member[3] ?? 0) });
    } else if (!line.startsWith('\t')) {
      current = undefined;
    }
  }
  return out;
}

function missingBpftool(): string | undefined {
  const missing = missingPath(VMLINUX) ?? missingRoot();
  if (missing) return missing;
  const ensure = spawnSync('bash', [resolve('scripts/ensure-packages.sh'), 'bpftool'], { stdio: 'inherit' });
  return ensure.status === 0 ? undefined : 'bpftool could not be installed';
}

describeWhen(missingBpftool(), 'kernel BTF against bpftool', () => {
  it('agrees with bpftool on the size and every named member of every struct and union', () => {
    const dump = parseBpftoolDump(execFileSync('bpftool', ['btf', 'dump', 'file', VMLINUX], { maxBuffer: 1 << 28 }).toString());
    const btf = readKernelBtf();
    const seen = new Set<string>();
    let checked = 0;
    for (const c of dump) {
      const key = `${c.kind} ${c.name}`;
      // Our lookup returns the first type of a name, as the dump lists them by id.
      if (c.name === '(anon)' || seen.has(key)) continue;
      seen.add(key);
      expect(btf.sizeOf(key), key).toBe(c.size);
      for (const m of c.members) {
        if (m.name === '(anon)') continue;
        const got = btf.member(key, m.name);
        expect({ bitOffset: got.bitOffset, bitSize: got.bitSize }, `${key}.${m.name}`).toEqual({ bitOffset: m.bitOffset, bitSize: m.bitSize });
        checked++;
      }
    }
    expect(seen.size).toBeGreaterThan(1000);
    expect(checked).toBeGreaterThan(10_000);
  });
});
