/**
 * The recorder polls its rings (nothing wakes it), and each poll costs a wakeup: drain turns and
 * the priority guard's looks are as rare as the rings' room allows at the fastest rate measured.
 */
import { describe, expect, it } from 'vitest';
import { drainIntervalMs, guardIntervalMs } from '../../src/record/pacing.js';

const MiB = 1 << 20;

describe('drain turns', () => {
  it('come every 100 ms on an idle host with the 32 MiB rings of small hosts', () => {
    expect(drainIntervalMs(32 * MiB, 0)).toBe(100);
  });

  it('come as often as a sixteenth of a ring fills at the rate just seen, but every 20 ms at most', () => {
    // 2 MiB (a sixteenth of 32 MiB) at 25 MiB/s takes 80 ms; at 200 MiB/s it would take 10.
    expect(drainIntervalMs(32 * MiB, (25 * MiB) / 1000)).toBe(80);
    expect(drainIntervalMs(32 * MiB, (200 * MiB) / 1000)).toBe(20);
  });

  it('never leave a burst at the fastest rate time to fill half a ring', () => {
    // 105 MiB/s fills half of a 4 MiB ring in 19 ms: such rings are drained every 20 ms, idle or not.
    expect(drainIntervalMs(4 * MiB, 0)).toBe(20);
    // Half of 8 MiB in 38 ms.
    expect(drainIntervalMs(8 * MiB, 0)).toBe(38);
  });
});

describe('the priority guard\'s looks', () => {
  it('come five times while the fastest rate fills a quarter of a ring, every 2 to 20 ms', () => {
    // A quarter of 4 MiB fills in 9.5 ms at 105 MiB/s; of 32 MiB in 76 ms.
    expect(guardIntervalMs(4 * MiB, 1 / 4)).toBe(2);
    expect(guardIntervalMs(32 * MiB, 1 / 4)).toBe(15);
    expect(guardIntervalMs(64 * 1024, 1 / 4)).toBe(2);
    expect(guardIntervalMs(1024 * MiB, 1 / 4)).toBe(20);
  });
});
