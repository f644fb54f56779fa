/**
 * The one formatter of each unit: UTC times computed from integers (no local time, no ms
 * rounding), durations to three significant digits, bytes in powers of 1024.
 */
import { describe, expect, it } from 'vitest';
import { bytesText, durationText, utcText } from '../../src/report/units.js';

describe('units', () => {
  it('formats UTC from integers, including before 1970 and out of Date range', () => {
    expect(utcText(0n)).toBe('1970-01-01T00:00:00.000000000Z');
    expect(utcText(-1n)).toBe('1969-12-31T23:59:59.999999999Z');
    expect(utcText(-1_000_000_001n)).toBe('1969-12-31T23:59:58.999999999Z');
    expect(utcText(1_700_000_000_123_456_789n)).toBe('2023-11-14T22:13:20.123456789Z');
    expect(utcText(2n ** 80n)).toBe(`${2n ** 80n}ns`);
  });

  it('formats durations to three significant digits, carrying into the next unit when rounding reaches 1000', () => {
    expect([850, 999.4, 1_000, 9_996, 12_345, 99_960, 4_560_000, 999_999_999, 1_031_515_000, 125e9, -2_500].map(durationText))
      .toEqual(['850ns', '999ns', '1.00µs', '10.0µs', '12.3µs', '100µs', '4.56ms', '1.00s', '1.03s', '125s', '-2.50µs']);
  });

  it('formats bytes in powers of 1024 with one decimal', () => {
    expect([0, 1023, 1024, 96_870, 2_831_155, 25_232_932_864].map(bytesText))
      .toEqual(['0B', '1023B', '1.0KiB', '94.6KiB', '2.7MiB', '23.5GiB']);
  });
});
