/**
 * How often the recorder looks at its rings. Nothing wakes it (the programs never wake the
 * recorder: a wakeup per record costs more than the tracing itself), so it polls; and each poll
 * wakes a thread, which on these VMs costs about 0.1 ms of CPU for a drain turn and about as
 * much again for a look of the priority guard. Polls are therefore as rare as the rings' room
 * allows at the fastest rate measured into one ring, and no rarer.
 */

/** The fastest rate measured into the rings (nginx+wrk, all processes, 105 MiB/s on all CPUs),
 * in bytes per ms, taken as what a single CPU's ring may get. */
const FASTEST_BYTES_PER_MS = (105 << 20) / 1000;

/** Drain turns: between 20 and 100 ms apart. */
const DRAIN_MS = { min: 20, max: 100 };
/** A drain turn comes before the rate just seen fills this share of a ring… */
const DRAIN_AT_SHARE = 1 / 16;
/** …and before a burst at the fastest rate, starting just after a turn, fills this share. */
const BURST_SHARE = 1 / 2;

/**
 * Milliseconds until the next drain turn, given the bytes per ms the rings took since the last:
 * an idle host is drained every 100 ms, a busy one as often as a sixteenth of a ring fills, and
 * never so late that the fastest rate could fill half a ring (20 ms for the 4 MiB rings of hosts
 * of more than 16 CPUs, which are drained every 20 ms as before).
 */
export function drainIntervalMs(ringBytes: number, bytesPerMs: number): number {
  const burstMs = ringBytes * BURST_SHARE / FASTEST_BYTES_PER_MS;
  const wantMs = ringBytes * DRAIN_AT_SHARE / Math.max(bytesPerMs, 1);
  return clamp(Math.floor(Math.min(wantMs, burstMs)), DRAIN_MS.min, DRAIN_MS.max);
}

/** Looks of the priority guard: five per quarter of a ring filled at the fastest rate. */
const LOOKS_PER_QUARTER = 5;
const LOOK_MS = { min: 2, max: 20 };

/**
 * How often the priority guard looks at the fill (src/record/priority.ts): often enough to see a
 * ring pass a quarter before it fills at the fastest rate (a quarter of a 4 MiB ring fills in
 * about 10 ms), and no more: looks every 2 ms took 1.9 % of a CPU of a recorder on 32 MiB rings.
 */
export function guardIntervalMs(ringBytes: number, boostAbove: number): number {
  const quarterMs = ringBytes * boostAbove / FASTEST_BYTES_PER_MS;
  return clamp(Math.floor(quarterMs / LOOKS_PER_QUARTER), LOOK_MS.min, LOOK_MS.max);
}

function clamp(v: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, v));
}
