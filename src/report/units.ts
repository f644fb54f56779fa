/**
 * The one formatter of each unit every report and command prints: UTC times, durations, bytes.
 * Fixed rules, no locale or time zone, so text is the same bytes everywhere. This module imports
 * nothing, so the layers that put a UTC time into their results (analyze, capture summary) use
 * it too rather than keeping a copy.
 */

/** UTC time with nanoseconds, e.g. 2023-11-14T22:13:20.000001000Z; raw ns when out of Date's range. */
export function utcText(ns: bigint): string {
  const sec = ns / 1_000_000_000n - (ns < 0n && ns % 1_000_000_000n !== 0n ? 1n : 0n);
  const frac = ns - sec * 1_000_000_000n;
  const ms = Number(sec) * 1000;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return `${ns}ns`;
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac.toString().padStart(9, '0')}Z`;
}

/** Duration in ns as e.g. 850ns, 12.3µs, 4.56ms, 1.23s (three significant digits); a value that
 * rounds up to 1000 of a unit is shown in the next one (1.00s, not 1000ms). */
export function durationText(ns: number): string {
  const abs = Math.abs(ns);
  if (abs < 999.5) return `${Math.round(ns)}ns`;
  if (abs < 999_500) return `${sig3(ns / 1_000)}µs`;
  if (abs < 999_500_000) return `${sig3(ns / 1_000_000)}ms`;
  return `${sig3(ns / 1_000_000_000)}s`;
}

/** Bytes as e.g. 512B, 4.1KiB, 12.0MiB. */
export function bytesText(n: number): string {
  if (n < 1024) return `${n}B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)}${units[i]}`;
}

function sig3(v: number): string {
  const a = Math.abs(v);
  // Thresholds are where rounding adds a digit: 9.996 is 10.0, not 10.00.
  return a >= 99.95 ? v.toFixed(0) : a >= 9.995 ? v.toFixed(1) : v.toFixed(2);
}

/** Control characters as \xNN, so text from a capture is always one line whatever its bytes were. */
export function oneLine(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
