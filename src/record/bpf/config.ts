/**
 * The BPF programs' run-time configuration (struct kcap_config in native/bpf/kcap_config.h):
 * filter, snaplen and the kernel struct offsets, resolved from the running kernel's BTF.
 *
 * The list of offsets is not repeated here: it is read from the KCAP_OFFSETS X-macro of the
 * header, so adding an offset to the C side is the only step.
 */
import { readFileSync } from 'node:fs';
import { BtfError, type KernelBtf } from '../btf.js';
import { PACKAGE_ROOT } from './native.js';

export const CONFIG_HEADER = `${PACKAGE_ROOT}native/bpf/kcap_config.h`;
/** Largest snaplen the programs accept (KCAP_SNAP_MAX). */
export const SNAP_MAX = 65536;
/** Largest argv kept per exec (KCAP_ARGS_MAX). */
export const ARGS_MAX = 4096;
/** Bytes of struct kcap_config before its offsets. */
const OFFSETS_AT = 76;

export interface OffsetSpec {
  readonly field: string;
  readonly struct: string;
  readonly path: string;
}

export enum FilterMode {
  All = 0,
  Pids = 1,
  Comm = 2,
  /** Nothing is recorded (while detaching). */
  Off = 3,
}

export interface ProgramConfig {
  readonly snaplen: number;
  readonly selfPid: number;
  readonly filter: FilterMode;
  readonly followChildren: boolean;
  readonly wakeupBytes: number;
  /** For FilterMode.Comm: the comm to match (at most 15 bytes). */
  readonly comm: string;
  readonly argsMax: number;
  /** At most one tcp_probe record per socket per this many ns (0: every segment). */
  readonly tcpProbeIntervalNs: number;
  /** What the record filter's I/O events need; the programs drop the others before copying. */
  readonly ioKeep: IoKeep;
}

/** I/O kept only on sockets, and of TCP connections only those with an end on one of `ports`
 * (empty: any); the record filter's needs (src/filter/pushdown.ts). */
export interface IoKeep {
  readonly sockets: boolean;
  readonly ports: readonly number[];
}

export const KEEP_ALL: IoKeep = { sockets: false, ports: [] };

/** The X(field, "struct", "path") lines of KCAP_OFFSETS, in order. */
export function parseOffsetSpecs(headerText: string): OffsetSpec[] {
  const out: OffsetSpec[] = [];
  for (const m of headerText.matchAll(/^\s*X\((\w+), "(\w+)", "([\w.]+)"\)/gm)) {
    out.push({ field: m[1]!, struct: m[2]!, path: m[3]! });
  }
  if (out.length === 0) throw new Error(`${CONFIG_HEADER}: no KCAP_OFFSETS entries found`);
  return out;
}

let headerText: string | undefined;
const header = () => (headerText ??= readFileSync(CONFIG_HEADER, 'utf8'));

let specs: OffsetSpec[] | undefined;
export function offsetSpecs(): OffsetSpec[] {
  specs ??= parseOffsetSpecs(header());
  return specs;
}

/** The value of a `#define NAME number` of the header. */
function defined(name: string): number {
  const m = new RegExp(`^#define ${name} (\\d+)`, 'm').exec(header());
  if (!m) throw new Error(`${CONFIG_HEADER}: no #define ${name}`);
  return Number(m[1]);
}

/** What the programs check of `keep`: with more ports than they hold, they keep TCP I/O of any
 * port (the filter still decides in user space). */
export function programIoKeep(keep: IoKeep): IoKeep {
  return keep.ports.length <= defined('KCAP_IO_PORTS') ? keep : { sockets: keep.sockets, ports: [] };
}

/** io_keep and io_ports of struct kcap_config. */
function encodeIoKeep(keep: IoKeep, b: Buffer): void {
  const { sockets, ports } = programIoKeep(keep);
  b.writeUInt32LE((sockets ? defined('KCAP_KEEP_SOCKETS') : 0) | (ports.length ? defined('KCAP_KEEP_PORTS') : 0), 56);
  ports.forEach((p, i) => b.writeUInt16LE(p, 60 + 2 * i));
}

/** Offsets of every KCAP_OFFSETS entry in this kernel; throws BtfError naming a missing one, or
 * when struct fdtable's max_fds and fd are not neighbours (the programs read both at once). */
export function resolveOffsets(btf: KernelBtf, list = offsetSpecs()): number[] {
  const offsets = list.map((s) => btf.offsetOf(s.struct, s.path));
  const at = (field: string) => offsets[list.findIndex((s) => s.field === field)];
  const maxFds = at('fdt_max_fds');
  const fd = at('fdt_fd');
  if (maxFds !== undefined && fd !== undefined && fd !== maxFds + 8) {
    throw new BtfError('bad-path', `fdtable.fd is at ${fd}, not 8 bytes after fdtable.max_fds (${maxFds}) as the kcap programs expect`);
  }
  return offsets;
}

/** sizeof(struct kcap_config): its u64 members make the compiler round it up to 8 bytes. */
export function configSize(offsetCount = offsetSpecs().length): number {
  return Math.ceil((OFFSETS_AT + 4 * offsetCount) / 8) * 8;
}

/** Encodes struct kcap_config (little-endian, as the BPF programs read it). */
export function encodeConfig(cfg: ProgramConfig, offsets: readonly number[]): Buffer {
  const comm = Buffer.from(cfg.comm, 'utf8');
  if (comm.length > 15) throw new RangeError(`comm "${cfg.comm}" is longer than the kernel's 15 bytes`);
  if (!Number.isInteger(cfg.snaplen) || cfg.snaplen < 0 || cfg.snaplen > SNAP_MAX) {
    throw new RangeError(`snaplen ${cfg.snaplen} is outside 0..${SNAP_MAX}`);
  }
  const b = Buffer.alloc(configSize(offsets.length));
  b.writeUInt32LE(cfg.snaplen, 0);
  b.writeUInt32LE(cfg.selfPid, 4);
  b.writeUInt32LE(cfg.filter, 8);
  b.writeUInt32LE(cfg.followChildren ? 1 : 0, 12);
  b.writeBigUInt64LE(BigInt(cfg.wakeupBytes), 16);
  comm.copy(b, 24);
  b.writeUInt32LE(Math.min(cfg.argsMax, ARGS_MAX), 40);
  b.writeUInt32LE(offsets.length, 44);
  b.writeBigUInt64LE(BigInt(cfg.tcpProbeIntervalNs), 48);
  encodeIoKeep(cfg.ioKeep, b);
  offsets.forEach((o, i) => b.writeUInt32LE(o, OFFSETS_AT + 4 * i));
  return b;
}
