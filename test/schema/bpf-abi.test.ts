/**
 * The generator's reading of formats/bpf-abi.json: struct kcap_config is laid out as a C compiler
 * would (the compiled BPF object asserts the committed one), and a description that would need
 * hidden padding or names a limit that does not exist is refused.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveAbi } from '../../scripts/gen-bpf-abi.js';

const spec = JSON.parse(readFileSync(new URL('../../formats/bpf-abi.json', import.meta.url), 'utf8')) as Parameters<typeof resolveAbi>[0];
const withConfig = (config: unknown[]) => ({ ...spec, config } as Parameters<typeof resolveAbi>[0]);

describe('formats/bpf-abi.json', () => {
  it('sizes arrays by their limit and rounds the struct up to its strictest member', () => {
    const abi = resolveAbi(withConfig([
      { name: 'a', type: 'u64', desc: '' },
      { name: 'ports', type: 'u16', count: 'io_ports', desc: '' },
      { name: 'b', type: 'u32', desc: '' },
    ]));
    const ioPorts = spec.limits.find((l) => l.name === 'io_ports')!.value;
    expect(abi.members.map((m) => [m.name, m.offset, m.size])).toEqual([['a', 0, 8], ['ports', 8, 2 * ioPorts], ['b', 8 + 2 * ioPorts, 4]]);
    expect(abi.size % 8).toBe(0);
    expect(abi.size).toBeGreaterThanOrEqual(12 + 2 * ioPorts);
  });

  it('refuses a member that would need hidden padding', () => {
    expect(() => resolveAbi(withConfig([{ name: 'a', type: 'u32', desc: '' }, { name: 'b', type: 'u64', desc: '' }]))).toThrow(/config\.b: u64 at offset 4 is misaligned/);
  });

  it('refuses an array sized by an unknown limit, and a repeated name', () => {
    expect(() => resolveAbi(withConfig([{ name: 'a', type: 'u16', count: 'nope', desc: '' }]))).toThrow(/unknown limit nope/);
    expect(() => resolveAbi(withConfig([{ name: 'a', type: 'u32', desc: '' }, { name: 'a', type: 'u32', desc: '' }]))).toThrow(/repeated name "a"/);
  });

  it('puts the kernel offsets last, one u32 each, in the committed layout', () => {
    const abi = resolveAbi(spec);
    const off = abi.members.at(-1)!;
    expect([off.type, off.size]).toEqual(['offsets', 4 * spec.offsets.length]);
    expect(abi.size).toBe(Math.ceil((off.offset + off.size) / 8) * 8);
  });
});
