/**
 * Human units for reports: fixed rules, no locale, so text reports are the same bytes everywhere.
 */

/** Duration in ns as e.g. 850ns, 12.3µs, 4.56ms, 1.23s (three significant digits). */
export function durationText(ns: number): string {
  const abs = Math.abs(ns);
  if (abs < 1_000) return `${Math.round(ns)}ns`;
  if (abs < 1_000_000) return `${sig3(ns / 1_000)}µs`;
  if (abs < 1_000_000_000) return `${sig3(ns / 1_000_000)}ms`;
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
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}
