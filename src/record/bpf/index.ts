/**
 * The recorder's kernel side: load kcap's BPF programs, attach them, and drain the raw records
 * they write into the ring buffer. Records come out exactly as formats/events.json lays them out,
 * whole and concatenated, ready for the capture writer and src/schema/decode.ts.
 *
 *   const probes = openProbes({ snaplen: 4096, selfPid: process.pid });
 *   setInterval(() => { const b = probes.drain(); if (b) write(b); }, 5);
 *   …
 *   probes.close();
 *
 * The programs never wake the consumer per record (that would cost more than tracing itself), so
 * callers poll drain() every few milliseconds; the ring is sized to ride out pauses of the event
 * loop. close() stops all recording at once and detaches the programs (the kernel finishes that in
 * the background, in about two seconds); the same happens at process exit, and the kernel detaches
 * them if the process dies any other way (every attachment is a file descriptor).
 */
import { existsSync, readFileSync } from 'node:fs';
import { readKernelBtf, type KernelBtf } from '../btf.js';
import { attachPlan, syscallArgCount } from './attach.js';
import { encodeConfig, resolveOffsets, KEEP_ALL, type IoKeep } from './config.js';
import { ARGS_MAX, FilterMode, KERNEL_OFFSETS, RECORD_MAX, SCRATCH_DEPTH } from './config.generated.js';
import { BpfError, wrapNative } from './errors.js';
import { loadAddon, PACKAGE_ROOT, type LoadedProgram, type NativeAddon, type NativeProbeSet } from './native.js';
import { checkBpfSupport, BTF_PATH } from './support.js';

export { BpfError } from './errors.js';
export { checkBpfSupport, type BpfSupport } from './support.js';
export { programIoKeep, type IoKeep } from './config.js';
export { SNAP_MAX } from './config.generated.js';
export type { LoadedProgram } from './native.js';

export const BPF_OBJECT = `${PACKAGE_ROOT}native/bpf/kcap.bpf.o`;
export const DEFAULT_SNAPLEN = 4096;
/** The largest record the programs write (formats/bpf-abi.json; kMaxRecordBytes in native/addon/ring_reader.h). */
export const MAX_RECORD_BYTES = RECORD_MAX;
/** Ring buffer bytes for all CPUs together; each CPU has its own ring (ProbeOptions.ringBytes). */
const RING_BUDGET_BYTES = 64 << 20;
const RING_MIN_BYTES = 4 << 20;
const DEFAULT_DRAIN_BYTES = 4 << 20;
const DEFAULT_TCP_PROBE_INTERVAL_MS = 10;

export interface ProbeOptions {
  /** Payload bytes kept per I/O event (default 4096, at most 65536). */
  readonly snaplen?: number;
  /** Never traced: the recorder itself (default process.pid). */
  readonly selfPid?: number;
  /** Trace only these processes (tgids); see addPid. Exclusive with comm. */
  readonly pids?: readonly number[];
  /** Trace only processes with this comm (at most 15 bytes). Exclusive with pids. */
  readonly comm?: string;
  /** With pids: processes forked by a traced one are traced too (default true). */
  readonly followChildren?: boolean;
  /** Size of each CPU's ring buffer, a power of two of at least a page (default: 64 MiB shared
   * out among the CPUs, at least 4 MiB each). */
  readonly ringBytes?: number;
  /** Pending bytes past which the programs wake a consumer waiting on the ring (default 0: never;
   * the recorder polls, and checking the fill level costs a helper call per record). */
  readonly wakeupBytes?: number;
  /** Bytes of argv kept per exec (default and max 4096). */
  readonly argsMax?: number;
  /** At most one tcp_probe (RTT, windows) record per socket per this many ms (default 10; 0: every
   * segment, which doubles the event rate of a busy connection). */
  readonly tcpProbeIntervalMs?: number;
  /** Kernel BTF to take struct offsets from (default /sys/kernel/btf/vmlinux). */
  readonly btf?: KernelBtf;
  /** The BPF object to load (default the packaged one): a build being developed, or the overhead
   * bench's floor object. */
  readonly objectPath?: string;
  /** Data calls the record filter certainly rejects are dropped before their payload is copied
   * (default: none). */
  readonly ioKeep?: IoKeep;
}

/** A TCP port listened on in a network namespace (the inode number of /proc/PID/ns/net). */
export interface ListenPort {
  readonly netNs: number;
  readonly port: number;
}

export interface YieldPolicy {
  readonly boostAboveBytes: number;
  readonly yieldBelowBytes: number;
  readonly lowNice: number;
  readonly intervalMs: number;
}

export interface ProbeStats {
  /** Tracepoints attached. */
  readonly attached: number;
  /** Tracepoints this kernel lacks (e.g. syscalls/sys_enter_open on arm64), not attached. */
  readonly skipped: readonly string[];
  readonly drains: number;
  readonly drainedBytes: number;
  /** Bytes written by the programs and not drained yet, in the fullest CPU's ring. */
  readonly pendingBytes: number;
  /** Records the programs could not write (ring full), all CPUs. */
  readonly lost: number;
  /** Records dropped while draining because they were not framed correctly (should stay 0). */
  readonly malformed: number;
}

export interface Probes {
  readonly snaplen: number;
  /** Size of each CPU's ring buffer, bytes. */
  readonly ringBytes: number;
  /** Bytes written by the programs and not drained yet in the fullest CPU's ring (reads mapped
   * counters, no syscall). */
  pendingBytes(): number;
  /**
   * Whole records, concatenated, at most maxBytes (but at least one record); null when none. A
   * summary (recordSummary() of src/capture) is filled in for the batch on the way.
   */
  drain(maxBytes?: number, summary?: Uint32Array): Buffer | null;
  /** As drain, written into dst, which must hold maxBytes + MAX_RECORD_BYTES; returns the bytes
   * written (0 when none). Spares a copy and an allocation per batch. */
  drainInto(dst: Uint8Array, maxBytes: number, summary?: Uint32Array): number;
  /** Records lost (ring buffer full) per CPU, index = CPU number. */
  lostPerCpu(): number[];
  /** Starts tracing a process (pid filter mode). */
  addPid(pid: number): void;
  /** Stops tracing a process (pid filter mode). */
  removePid(pid: number): void;
  /** Every thread of this process runs at `policy.lowNice` while the fullest ring holds less than
   * yieldBelowBytes, and at its starting priority once it holds more than boostAboveBytes, until
   * close(). Decided every intervalMs on a thread that is never lowered (src/record/priority.ts). */
  yieldCpu(policy: YieldPolicy): void;
  /** Whether the process is yielding now. */
  yielding(): boolean;
  /** Under a process filter, TCP ports traced processes listen on: the TCP events of their
   * connections are kept, also before accept and after close (listen and accept add theirs in
   * the kernel; this is for listeners older than the recording). Such a port is followed until
   * the listener that owns it closes, known to the kernel from the port's first accept. */
  addListenPorts(ports: Iterable<ListenPort>): void;
  stats(): ProbeStats;
  /** Detaches every program and frees the maps; idempotent. */
  close(): void;
}

function addonOrThrow(): NativeAddon {
  const addon = loadAddon();
  if (typeof addon === 'string') throw new BpfError(addon, 'EKCAPNOADDON', undefined, undefined);
  return addon;
}

/** CLOCK_BOOTTIME and CLOCK_REALTIME read back to back, to turn record timestamps into UTC. */
export function clockAnchor(): { bootNs: bigint; realtimeNs: bigint } {
  const [bootNs, realtimeNs] = addonOrThrow().clockAnchor();
  return { bootNs, realtimeNs };
}

/** All BPF programs loaded in the system (kcap's names start with "kcap_"), for leak checks and
 * per-program cost (runTimeNs / runCount, counted while kernel.bpf_stats_enabled is 1). */
export function loadedPrograms(): LoadedProgram[] {
  return wrapNative('listing BPF programs', () => addonOrThrow().loadedPrograms());
}

/** Number of possible CPUs (per-CPU map values have one slot each). */
export function possibleCpus(): number {
  const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  const last = text.split(',').pop()!.split('-').pop()!;
  return Number.parseInt(last, 10) + 1;
}

/** A kcap_lports value: the owning listener's struct sock, not known from /proc. */
const NO_OWNER = Buffer.alloc(8);

/** struct lport_key of native/bpf/kcap_common.h. */
function lportKey(p: ListenPort): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(p.netNs >>> 0, 0);
  b.writeUInt16LE(p.port, 4);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** The default ring size per CPU: the budget shared out, rounded down to a power of two. */
function defaultRingBytes(cpus: number): number {
  const share = 2 ** Math.floor(Math.log2(RING_BUDGET_BYTES / Math.max(cpus, 1)));
  return Math.max(share, RING_MIN_BYTES);
}

function checkOptions(o: ProbeOptions): void {
  const ring = o.ringBytes;
  if (ring !== undefined && (!Number.isInteger(ring) || ring < 4096 || (ring & (ring - 1)) !== 0 || ring > 2 ** 30)) {
    throw new RangeError(`ringBytes ${ring} must be a power of two between 4 KiB and 1 GiB`);
  }
  if (o.pids && o.comm !== undefined) throw new RangeError('pids and comm filters are exclusive');
  const probeMs = o.tcpProbeIntervalMs ?? 0;
  if (!Number.isFinite(probeMs) || probeMs < 0 || probeMs > 3_600_000) throw new RangeError(`tcpProbeIntervalMs ${probeMs} is outside 0..3600000`);
  for (const pid of o.pids ?? []) {
    if (!Number.isInteger(pid) || pid <= 0 || pid > 0x3fffffff) throw new RangeError(`invalid pid ${pid}`);
  }
}

function filterMode(o: ProbeOptions): FilterMode {
  if (o.pids) return FilterMode.Pids;
  if (o.comm !== undefined) return FilterMode.Comm;
  return FilterMode.All;
}

/** Reads the tracefs id of a tracepoint, undefined when this kernel does not have it. */
function tracepointId(tracefs: string, target: string): number | undefined {
  const path = `${tracefs}/events/${target}/id`;
  return existsSync(path) ? Number.parseInt(readFileSync(path, 'utf8'), 10) : undefined;
}

/** Attaches the plan; returns how many attached and the targets this kernel lacks. */
function attachAll(set: NativeProbeSet, tracefs: string): { attached: number; skipped: string[] } {
  const { plan, missing } = attachPlan((sc) => syscallArgCount(tracefs, sc));
  const skipped = [...missing];
  wrapNative('loading the kcap BPF programs', () => set.load([...new Set(plan.map((a) => a.program))]));
  let attached = 0;
  for (const a of plan) {
    const target = a.raw ? a.target : tracepointId(tracefs, a.target);
    if (target === undefined) {
      skipped.push(a.target);
      continue;
    }
    wrapNative(`attaching ${a.program} to ${a.target}`, () => set.attach(a.program, target));
    attached++;
  }
  return { attached, skipped };
}

/** Stops every program from emitting at once (filter "off"), then detaches them; the addon
 * finishes detaching in the background because the kernel takes seconds to unregister tracepoints. */
function stopAndClose(set: NativeProbeSet, offConfig: Buffer): void {
  try {
    set.mapUpdate('kcap_cfg', u32(0), offConfig);
  } catch {
    // Closing detaches the programs anyway (stopping them first only spares what they would write
    // meanwhile); a failure here must not mask the error that made the caller close.
  } finally {
    set.close();
  }
}

const openSets = new Map<NativeProbeSet, Buffer>();
let exitHookInstalled = false;

/** Stop recording at exit even when the caller forgets close(); the kernel would detach too, but
 * only once the process is fully gone. */
function trackForExit(set: NativeProbeSet, offConfig: Buffer): void {
  openSets.set(set, offConfig);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [s, off] of openSets) stopAndClose(s, off);
    openSets.clear();
  });
}

export function openProbes(options: ProbeOptions = {}): Probes {
  checkOptions(options);
  const support = checkBpfSupport();
  if (!support.ok) throw new BpfError(`cannot record: ${support.reason}`, 'EKCAPSUPPORT', undefined, undefined);
  const addon = addonOrThrow();
  const btf = options.btf ?? readKernelBtf(BTF_PATH);
  const offsets = resolveOffsets(btf);
  const snaplen = options.snaplen ?? DEFAULT_SNAPLEN;
  const cpus = possibleCpus();
  const ringBytes = options.ringBytes ?? defaultRingBytes(cpus);
  const programConfig = {
    snaplen,
    selfPid: options.selfPid ?? process.pid,
    filter: filterMode(options),
    followChildren: options.followChildren ?? true,
    wakeupBytes: options.wakeupBytes ?? 0,
    comm: options.comm ?? '',
    argsMax: options.argsMax ?? ARGS_MAX,
    tcpProbeIntervalNs: Math.round((options.tcpProbeIntervalMs ?? DEFAULT_TCP_PROBE_INTERVAL_MS) * 1e6),
    ioKeep: options.ioKeep ?? KEEP_ALL,
  };
  const config = encodeConfig(programConfig, offsets);
  const offConfig = encodeConfig({ ...programConfig, filter: FilterMode.Off }, offsets);
  const set = wrapNative('loading the kcap BPF object', () =>
    new addon.ProbeSet(readFileSync(options.objectPath ?? BPF_OBJECT), { kcap_ring: ringBytes, kcap_rings: cpus, kcap_scratch: cpus * SCRATCH_DEPTH }, cpus));
  let closed = false;
  let drains = 0;
  let drainedBytes = 0;
  let malformedAtClose = 0;

  const close = (): void => {
    if (closed) return;
    closed = true;
    malformedAtClose = set.malformed();
    stopAndClose(set, offConfig);
    openSets.delete(set);
  };

  let result: { attached: number; skipped: string[] };
  try {
    wrapNative('writing the BPF configuration', () => set.mapUpdate('kcap_cfg', u32(0), config));
    for (const pid of options.pids ?? []) set.mapUpdate('kcap_pids', u32(pid), Buffer.from([1]));
    wrapNative('mapping the ring buffer', () => set.openRing('kcap_rings'));
    result = attachAll(set, support.tracefs);
  } catch (err) {
    close();
    throw err;
  }
  trackForExit(set, offConfig);

  const lostPerCpu = (): number[] => {
    if (closed) return new Array<number>(cpus).fill(0);
    const v = wrapNative('reading lost counters', () => set.mapLookup('kcap_lost', u32(0)));
    return Array.from({ length: cpus }, (_, i) => (v ? Number(v.readBigUInt64LE(8 * i)) : 0));
  };

  const pendingBytes = (): number => (closed ? 0 : set.pending());

  const drainInto = (dst: Uint8Array, maxBytes: number, summary?: Uint32Array): number => {
    if (closed) return 0;
    const n = set.drainInto(dst, maxBytes, summary);
    if (n > 0) {
      drains++;
      drainedBytes += n;
    }
    return n;
  };

  /** Where drain() takes a batch before handing out a copy of its size; kept between calls. */
  let scratch = Buffer.alloc(0);

  const live = (what: string): void => {
    if (closed) throw new BpfError(`${what}: the probes are closed`, 'EKCAPCLOSED', undefined, undefined);
  };

  return {
    snaplen,
    ringBytes,
    pendingBytes,
    drain(maxBytes = DEFAULT_DRAIN_BYTES, summary?: Uint32Array) {
      if (closed) return null;
      if (scratch.length < maxBytes + MAX_RECORD_BYTES) scratch = Buffer.allocUnsafe(maxBytes + MAX_RECORD_BYTES);
      const n = drainInto(scratch, maxBytes, summary);
      return n === 0 ? null : Buffer.from(scratch.subarray(0, n));
    },
    drainInto,
    lostPerCpu,
    addPid(pid) {
      live('addPid');
      wrapNative(`tracing pid ${pid}`, () => set.mapUpdate('kcap_pids', u32(pid), Buffer.from([1])));
    },
    removePid(pid) {
      live('removePid');
      wrapNative(`untracing pid ${pid}`, () => set.mapDelete('kcap_pids', u32(pid)));
    },
    yieldCpu(p) {
      live('yieldCpu');
      wrapNative('yielding the CPU', () => set.yieldCpu(p.boostAboveBytes, p.yieldBelowBytes, p.lowNice, p.intervalMs));
    },
    yielding: () => !closed && set.yielding(),
    addListenPorts(ports) {
      live('addListenPorts');
      for (const p of ports) wrapNative(`following TCP port ${p.port}`, () => set.mapUpdate('kcap_lports', lportKey(p), NO_OWNER));
    },
    stats() {
      return {
        attached: result.attached,
        skipped: result.skipped,
        drains,
        drainedBytes,
        pendingBytes: pendingBytes(),
        lost: lostPerCpu().reduce((a, b) => a + b, 0),
        malformed: closed ? malformedAtClose : set.malformed(),
      };
    },
    close,
  };
}

/** The struct offsets the programs need, for diagnostics (`kcap record --explain` or tests). */
export function describeOffsets(btf: KernelBtf): Array<{ field: string; where: string; offset: number }> {
  const values = resolveOffsets(btf);
  return KERNEL_OFFSETS.map((s, i) => ({ field: s.field, where: `${s.struct}.${s.path}`, offset: values[i]! }));
}
