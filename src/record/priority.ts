/**
 * The recorder yields the CPU to what it traces. Tracing already costs the traced processes time
 * in the kernel; the recorder's own work (draining, compressing, writing) need not compete with
 * them as well. So it runs at the lowest priority (nice 19), draining in the gaps the workload
 * leaves, while every CPU's ring buffer has room; once one fills past a quarter it returns to the
 * priority it started with, so that on a saturated host it catches up instead of losing events.
 */
import { getPriority, setPriority } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';

const LOWEST = 19;
const CAP_SYS_NICE = 23n;
/** Ring fill (fraction) above which the recorder takes its starting priority back, and below which it yields again. */
const BOOST_ABOVE = 1 / 4;
const YIELD_BELOW = 1 / 32;

export class YieldingPriority {
  private readonly base: number;
  private readonly allowed: boolean;
  private yielding = false;

  /** `mayRaise`: whether this process may take a priority back once lowered. */
  constructor(private readonly ringBytes: number, mayRaise = hasCapSysNice()) {
    this.base = getPriority(0);
    // Yielding is only safe if the starting priority can be taken back.
    this.allowed = mayRaise && this.base < LOWEST;
    if (this.allowed) this.set(true);
  }

  /** Called before each drained batch with the bytes waiting in the fullest ring. */
  update(pendingBytes: number): void {
    if (!this.allowed) return;
    if (this.yielding && pendingBytes > this.ringBytes * BOOST_ABOVE) this.set(false);
    else if (!this.yielding && pendingBytes < this.ringBytes * YIELD_BELOW) this.set(true);
  }

  /** Sets every thread of this process (nice is per thread on Linux): V8's helpers too. */
  private set(yielding: boolean): void {
    const nice = yielding ? LOWEST : this.base;
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        setPriority(Number(tid), nice);
      } catch {
        // A thread that has exited since the listing: nothing to set.
      }
    }
    this.yielding = yielding;
  }
}

/** Raising a priority needs CAP_SYS_NICE (in the effective set of /proc/self/status). */
export function hasCapSysNice(): boolean {
  const caps = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return caps !== null && (BigInt(`0x${caps[1]}`) & (1n << CAP_SYS_NICE)) !== 0n;
}
