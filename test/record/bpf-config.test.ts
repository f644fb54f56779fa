/**
 * The BPF configuration encoder against the C header the programs are compiled with (no kernel
 * needed; both are generated from formats/bpf-abi.json): the offsets list is struct kcap_offsets,
 * the scalar layout matches the struct offsets the header asserts, and out-of-range settings are
 * refused before they reach the kernel.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeConfig } from '../../src/record/bpf/config.js';
import { CONFIG_SIZE, FilterMode, KERNEL_OFFSETS, SNAP_MAX } from '../../src/record/bpf/config.generated.js';
import { attachPlan } from '../../src/record/bpf/attach.js';
import { EVENT_SCHEMA } from '../../src/schema/events.generated.js';

const header = readFileSync(new URL('../../native/bpf/kcap_config.h', import.meta.url), 'utf8');
/** Where the header's struct comment puts a field (`field; /* @N`), and a #define's value. */
const at = (field: string) => Number(new RegExp(`${field};\\s*/\\* @(\\d+)`).exec(header)![1]);
const define = (name: string) => Number(new RegExp(`#define ${name} (\\d+)`).exec(header)![1]);
const base = { snaplen: 4096, selfPid: 1234, filter: FilterMode.Comm, followChildren: true, wakeupBytes: 1 << 20, comm: 'nginx', argsMax: 4096, tcpProbeIntervalNs: 10_000_000,
  ioKeep: { sockets: true, ports: [80, 6379] } };

describe('BPF config encoding', () => {
  it('lists the members of struct kcap_offsets, in order', () => {
    const struct = /struct kcap_offsets \{([^}]*)\}/.exec(header)![1]!;
    const members = [...struct.matchAll(/__u32 (\w+);\s*\/\* (\w+)\.([\w.]+) \*\//g)].map((m) => ({ field: m[1], struct: m[2], path: m[3] }));
    expect(members).toEqual(KERNEL_OFFSETS);
    expect(KERNEL_OFFSETS[0]).toEqual({ field: 'task_files', struct: 'task_struct', path: 'files' });
    expect(KERNEL_OFFSETS.find((s) => s.field === 'sk_num')).toEqual({ field: 'sk_num', struct: 'sock', path: '__sk_common.skc_num' });
    expect(() => encodeConfig(base, KERNEL_OFFSETS.slice(1).map(() => 0))).toThrow(/struct kcap_offsets has/);
  });

  it('lays the scalars out at the offsets documented in the header', () => {
    const offsets = KERNEL_OFFSETS.map((_, i) => 1000 + i);
    const b = encodeConfig(base, offsets);
    expect(b.length).toBe(CONFIG_SIZE);
    expect(b.length).toBe(Number(/sizeof\(struct kcap_config\) == (\d+)/.exec(header)![1]));
    expect(b.readUInt32LE(at('snaplen'))).toBe(4096);
    expect(b.readUInt32LE(at('self_pid'))).toBe(1234);
    expect(b.readUInt32LE(at('filter_mode'))).toBe(FilterMode.Comm);
    expect(b.readUInt32LE(at('follow_children'))).toBe(1);
    expect(b.readBigUInt64LE(at('wakeup_bytes'))).toBe(1n << 20n);
    expect(b.subarray(at('comm\\[KCAP_COMM_LEN\\]'), at('comm\\[KCAP_COMM_LEN\\]') + 16).toString('latin1')).toBe('nginx'.padEnd(16, '\0'));
    expect(b.readUInt32LE(at('n_offsets'))).toBe(offsets.length);
    expect(b.readBigUInt64LE(at('tcp_probe_interval_ns'))).toBe(10_000_000n);
    expect(b.readUInt32LE(at('io_keep'))).toBe(define('KCAP_KEEP_SOCKETS') | define('KCAP_KEEP_PORTS'));
    const ports = at('io_ports\\[KCAP_IO_PORTS\\]');
    expect([0, 1, 2].map((i) => b.readUInt16LE(ports + 2 * i))).toEqual([80, 6379, 0]);
    expect(encodeConfig({ ...base, ioKeep: { sockets: false, ports: [] } }, offsets).readUInt32LE(at('io_keep'))).toBe(0);
    const off = /struct kcap_offsets off;\s*\/\* @(\d+)/.exec(header)![1];
    expect(b.readUInt32LE(Number(off) + 4 * 3)).toBe(1003);
  });

  it('keeps TCP I/O of any port when a filter names more ports than the programs hold', () => {
    const offsets = KERNEL_OFFSETS.map(() => 0);
    const slots = define('KCAP_IO_PORTS');
    const ports = Array.from({ length: slots + 1 }, (_, i) => 1000 + i);
    const keep = (n: number) => encodeConfig({ ...base, ioKeep: { sockets: true, ports: ports.slice(0, n) } }, offsets).readUInt32LE(at('io_keep'));
    expect(keep(slots)).toBe(define('KCAP_KEEP_SOCKETS') | define('KCAP_KEEP_PORTS'));
    expect(keep(slots + 1)).toBe(define('KCAP_KEEP_SOCKETS'));
  });

  it('refuses a snaplen over 64 KiB and a comm over 15 bytes', () => {
    const offsets = KERNEL_OFFSETS.map(() => 0);
    expect(() => encodeConfig({ ...base, snaplen: SNAP_MAX + 1 }, offsets)).toThrow(RangeError);
    expect(() => encodeConfig({ ...base, comm: 'a-very-long-comm-name' }, offsets)).toThrow(/15 bytes/);
  });

  it('attaches a program for every syscall event of the schema', () => {
    const { plan, missing } = attachPlan(() => 3);
    expect(missing).toEqual([]);
    const programs = new Set(plan.map((a) => a.program));
    const syscallEvents = EVENT_SCHEMA.events.filter((e) => ['io', 'net', 'file'].includes(e.category));
    for (const e of syscallEvents) {
      const program = e.name === 'fcntl_dupfd' ? 'kcap_exit_fcntl' : `kcap_exit_${e.name}`;
      expect(programs.has(program), program).toBe(true);
    }
    // Enter before exit for each syscall, so no exit runs without its stash.
    const enterAt = plan.findIndex((a) => a.target === 'syscalls/sys_enter_read');
    expect(enterAt).toBeLessThan(plan.findIndex((a) => a.target === 'syscalls/sys_exit_read'));
  });
});
