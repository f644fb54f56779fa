/**
 * The recorder yields the CPU: every thread of its process drops to nice 19 while the rings have
 * room, and returns to the starting priority once one is a quarter full, decided by the addon's
 * guard thread, which stays at the starting priority so that a starved recorder cannot miss its
 * rings filling. Only where it may raise its priority again (CAP_SYS_NICE) does it yield at all.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { getPriority } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openProbes, type Probes } from '../../src/record/bpf/index.js';
import { hasCapSysNice, yieldCpu } from '../../src/record/priority.js';
import { describeBpf } from '../helpers/bpf.js';

/** Nice value of every thread of this process (field 19 of /proc/self/task/TID/stat). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

/** Waits (at most 2 s) until the guard's decision is `yielding`. */
async function until(probes: Probes, yielding: boolean): Promise<void> {
  for (const t0 = Date.now(); probes.yielding() !== yielding;) {
    if (Date.now() - t0 > 2000) throw new Error(`still ${yielding ? 'not ' : ''}yielding after 2 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const base = getPriority(0);
const RING = 1 << 16;

describeBpf('the recorder\'s yielding priority', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kcap-prio-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lowers every thread but the guard, takes the starting priority back when a ring fills, and yields again once drained', async () => {
    expect(hasCapSysNice()).toBe(process.getuid?.() === 0);
    if (!hasCapSysNice()) return; // cannot raise a priority back here: the next test covers that case
    const writer = join(dir, 'kcapprio');
    copyFileSync('/usr/bin/dd', writer);
    const probes = openProbes({ comm: 'kcapprio', ringBytes: RING });
    try {
      expect(yieldCpu(probes)).toBe(true);
      await until(probes, true);
      const lowered = threadNices();
      expect(lowered.filter((n) => n === base)).toHaveLength(1); // the guard
      expect(lowered.filter((n) => n === 19)).toHaveLength(lowered.length - 1);

      // This thread is blocked meanwhile, as a recorder starved of CPU would be: nothing drains,
      // the ring fills far past a quarter (and overflows), and the guard must act on its own.
      execFileSync(writer, ['if=/dev/zero', 'of=/dev/null', 'bs=1', 'count=3000'], { stdio: 'ignore' });
      expect(probes.pendingBytes()).toBeGreaterThan(RING / 4);
      await until(probes, false);
      expect(new Set(threadNices())).toEqual(new Set([base]));

      while (probes.drain()) { /* empty the rings */ }
      await until(probes, true);
      expect(threadNices().filter((n) => n === 19)).toHaveLength(threadNices().length - 1);
    } finally {
      probes.close();
    }
    expect(new Set(threadNices())).toEqual(new Set([base]));
  });

  it('leaves the priority alone where it could not take it back', async () => {
    const probes = openProbes({ comm: 'kcapprio', ringBytes: RING });
    try {
      expect(yieldCpu(probes, false)).toBe(false);
      await new Promise((r) => setTimeout(r, 20));
      expect(probes.yielding()).toBe(false);
      expect(new Set(threadNices())).toEqual(new Set([base]));
    } finally {
      probes.close();
    }
  });
});
