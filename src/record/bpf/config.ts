/**
 * The BPF programs' run-time configuration (struct kcap_config in native/bpf/kcap_config.h):
 * filter, snaplen and the kernel struct offsets, resolved from the running kernel's BTF.
 *
 * The layout, limits, flag bits and the list of offsets come from formats/bpf-abi.json through
 * config.generated.ts, generated with the C header; the compiled BPF object asserts every offset.
 */
import { BtfError, type KernelBtf } from '../btf.js';
import {
  ARGS_MAX, COMM_LEN, CONFIG_SIZE, ConfigOffset, IO_PORTS, KERNEL_OFFSETS, KeepBit, SNAP_MAX, type FilterMode, type KernelOffset,
} from './config.generated.js';

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

/** What the programs check of `keep`: with more ports than they hold, they keep TCP I/O of any
 * port (the filter still decides in user space). */
export function programIoKeep(keep: IoKeep): IoKeep {
  return keep.ports.length <= IO_PORTS ? keep : { sockets: keep.sockets, ports: [] };
}

/** io_keep and io_ports of struct kcap_config. */
function encodeIoKeep(keep: IoKeep, b: Buffer): void {
  const { sockets, ports } = programIoKeep(keep);
  b.writeUInt32LE((sockets ? KeepBit.Sockets : 0) | (ports.length ? KeepBit.Ports : 0), ConfigOffset.io_keep);
  ports.forEach((p, i) => b.writeUInt16LE(p, ConfigOffset.io_ports + 2 * i));
}

/** Offsets of every KERNEL_OFFSETS entry in this kernel; throws BtfError naming a missing one, or
 * when struct fdtable's max_fds and fd are not neighbours (the programs read both at once). */
export function resolveOffsets(btf: KernelBtf, list: readonly KernelOffset[] = KERNEL_OFFSETS): number[] {
  const offsets = list.map((s) => btf.offsetOf(s.struct, s.path));
  const at = (field: string) => offsets[list.findIndex((s) => s.field === field)];
  const maxFds = at('fdt_max_fds');
  const fd = at('fdt_fd');
  if (maxFds !== undefined && fd !== undefined && fd !== maxFds + 8) {
    throw new BtfError('bad-path', `fdtable.fd is at ${fd}, not 8 bytes after fdtable.max_fds (${maxFds}) as the kcap programs expect`);
  }
  return offsets;
}

/** Encodes struct kcap_config (little-endian, as the BPF programs read it). */
export function encodeConfig(cfg: ProgramConfig, offsets: readonly number[]): Buffer {
  if (offsets.length !== KERNEL_OFFSETS.length) {
    throw new RangeError(`${offsets.length} kernel offsets given, struct kcap_offsets has ${KERNEL_OFFSETS.length}`);
  }
  const comm = Buffer.from(cfg.comm, 'utf8');
  if (comm.length >= COMM_LEN) throw new RangeError(`comm "${cfg.comm}" is longer than the kernel's ${COMM_LEN - 1} bytes`);
  if (!Number.isInteger(cfg.snaplen) || cfg.snaplen < 0 || cfg.snaplen > SNAP_MAX) {
    throw new RangeError(`snaplen ${cfg.snaplen} is outside 0..${SNAP_MAX}`);
  }
  const b = Buffer.alloc(CONFIG_SIZE);
  b.writeUInt32LE(cfg.snaplen, ConfigOffset.snaplen);
  b.writeUInt32LE(cfg.selfPid, ConfigOffset.self_pid);
  b.writeUInt32LE(cfg.filter, ConfigOffset.filter_mode);
  b.writeUInt32LE(cfg.followChildren ? 1 : 0, ConfigOffset.follow_children);
  b.writeBigUInt64LE(BigInt(cfg.wakeupBytes), ConfigOffset.wakeup_bytes);
  comm.copy(b, ConfigOffset.comm);
  b.writeUInt32LE(Math.min(cfg.argsMax, ARGS_MAX), ConfigOffset.args_max);
  b.writeUInt32LE(offsets.length, ConfigOffset.n_offsets);
  b.writeBigUInt64LE(BigInt(cfg.tcpProbeIntervalNs), ConfigOffset.tcp_probe_interval_ns);
  encodeIoKeep(cfg.ioKeep, b);
  offsets.forEach((o, i) => b.writeUInt32LE(o, ConfigOffset.off + 4 * i));
  return b;
}
