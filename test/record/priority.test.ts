/**
 * The recorder yields the CPU: every thread of its process drops to nice 19 while the ring has
 * room, and returns to the starting priority once the ring is a quarter full — but only where
 * it may raise its priority again (CAP_SYS_NICE), so a process never lowers itself for good.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { hasCapSysNice, YieldingPriority } from '../../src/record/priority.js';

/** Nice value of every thread of this process (field 19 of /proc/self/task/TID/stat). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

const base = getPriority(0);
const RING = 1 << 20;

describe('the recorder\'s yielding priority', () => {
  afterEach(() => {
    for (const tid of readdirSync('/proc/self/task')) setPriority(Number(tid), base);
  });

  it('lowers every thread, takes the starting priority back when the ring fills, and yields again once drained', () => {
    expect(hasCapSysNice()).toBe(process.getuid?.() === 0);
    if (!hasCapSysNice()) return; // cannot raise a priority back here: the next test covers that case
    const p = new YieldingPriority(RING);
    expect(new Set(threadNices())).toEqual(new Set([19]));
    p.update(RING / 8); // an eighth full: keeps yielding
    expect(new Set(threadNices())).toEqual(new Set([19]));
    p.update(RING / 4 + 1);
    expect(new Set(threadNices())).toEqual(new Set([base]));
    p.update(RING / 8); // between the thresholds: stays up, no flapping
    expect(new Set(threadNices())).toEqual(new Set([base]));
    p.update(RING / 64);
    expect(new Set(threadNices())).toEqual(new Set([19]));
  });

  it('leaves the priority alone where it could not take it back', () => {
    const p = new YieldingPriority(RING, false);
    p.update(RING / 64);
    p.update(RING);
    expect(new Set(threadNices())).toEqual(new Set([base]));
  });
});
