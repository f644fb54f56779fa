/**
 * Can this host record? Checks, in the order a user would fix them: Linux and the addon, privileges
 * (root, or CAP_BPF with CAP_PERFMON), kernel BTF (for struct offsets) and tracefs (tracepoint
 * ids), mounting tracefs at /sys/kernel/tracing when it is missing and we may.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadAddon } from './native.js';

export const BTF_PATH = '/sys/kernel/btf/vmlinux';
const TRACEFS_DIRS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];
const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

export type BpfSupport = { readonly ok: true; readonly tracefs: string } | { readonly ok: false; readonly reason: string };

function effectiveCaps(): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

function hasCap(caps: bigint, cap: bigint): boolean {
  return ((caps >> cap) & 1n) === 1n;
}

/** The tracefs directory holding events/, mounting tracefs if needed and possible. */
export function findTracefs(): string | undefined {
  const found = TRACEFS_DIRS.find((d) => existsSync(`${d}/events/syscalls`));
  if (found) return found;
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS_DIRS[0]!], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return existsSync(`${TRACEFS_DIRS[0]}/events/syscalls`) ? TRACEFS_DIRS[0] : undefined;
}

export function checkBpfSupport(): BpfSupport {
  const addon = loadAddon();
  if (typeof addon === 'string') return { ok: false, reason: addon };
  const caps = effectiveCaps();
  const privileged = hasCap(caps, CAP_SYS_ADMIN) || (hasCap(caps, CAP_BPF) && hasCap(caps, CAP_PERFMON));
  if (!privileged) {
    return { ok: false, reason: 'recording needs root (or CAP_BPF and CAP_PERFMON); run kcap record as root' };
  }
  if (!existsSync(BTF_PATH)) {
    return { ok: false, reason: `the kernel has no BTF (${BTF_PATH} is missing; needs CONFIG_DEBUG_INFO_BTF=y)` };
  }
  const tracefs = findTracefs();
  if (!tracefs) {
    return { ok: false, reason: 'tracefs is not mounted and could not be mounted at /sys/kernel/tracing (mount -t tracefs nodev /sys/kernel/tracing)' };
  }
  return { ok: true, tracefs };
}
