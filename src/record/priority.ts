/**
 * The recorder yields the CPU to what it traces. Tracing already costs the traced processes time
 * in the kernel; the recorder's own work (draining, compressing, writing) need not compete with
 * them as well. So it runs at the lowest priority (nice 19), draining in the gaps the workload
 * leaves, while every CPU's ring buffer has room; once one fills past a quarter it returns to the
 * priority it started with, so that on a saturated host it catches up instead of losing events.
 *
 * The addon decides on a thread that stays at the starting priority: the recorder's own threads,
 * starved at nice 19, would see a ring filling too late (4 MiB rings, the size on hosts of more
 * than 16 CPUs, overflowed under nginx+wrk before they did).
 */
import { getPriority } from 'node:os';
import { readFileSync } from 'node:fs';
import type { Probes } from './bpf/index.js';
import { guardIntervalMs } from './pacing.js';

const LOWEST = 19;
const CAP_SYS_NICE = 23n;
/** Ring fill (fraction) above which the recorder takes its starting priority back, and below which it yields again. */
const BOOST_ABOVE = 1 / 4;
const YIELD_BELOW = 1 / 32;

/** Starts yielding where the starting priority can be taken back (`mayRaise`); returns whether it does. */
export function yieldCpu(probes: Probes, mayRaise = hasCapSysNice()): boolean {
  if (!mayRaise || getPriority(0) >= LOWEST) return false;
  probes.yieldCpu({
    boostAboveBytes: probes.ringBytes * BOOST_ABOVE,
    yieldBelowBytes: probes.ringBytes * YIELD_BELOW,
    lowNice: LOWEST,
    intervalMs: guardIntervalMs(probes.ringBytes, BOOST_ABOVE),
  });
  return true;
}

/** Raising a priority needs CAP_SYS_NICE (in the effective set of /proc/self/status). */
export function hasCapSysNice(): boolean {
  const caps = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return caps !== null && (BigInt(`0x${caps[1]}`) & (1n << CAP_SYS_NICE)) !== 0n;
}
