/**
 * Loads the kcap native addon (built by node-gyp from native/addon during `npm install`) and
 * types its surface. Only this module touches the addon; a missing addon (not Linux, failed build)
 * is reported as a reason string, never as a crash at import time.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The package root, from src/record/bpf or dist/record/bpf alike. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface NativeProbeSet {
  /** Loads programs in parallel (the verifier's work is most of a start); attach loads any not loaded. */
  load(programs: readonly string[]): void;
  /** A number is a tracefs tracepoint id, a string a raw tracepoint name. */
  attach(program: string, target: number | string): void;
  mapUpdate(map: string, key: Buffer, value: Buffer): void;
  mapLookup(map: string, key: Buffer): Buffer | null;
  mapDelete(map: string, key: Buffer): boolean;
  openRing(map: string): void;
  /** Whole records into dst (maxBytes plus MAX_RECORD_BYTES long at least); returns the bytes
   * written. With a summary (see recordSummary in src/capture/writer.ts), fills it in for the batch. */
  drainInto(dst: Uint8Array, maxBytes: number, summary?: Uint32Array): number;
  pending(): number;
  /** Yields the CPU while the rings have room, decided on a thread of the addon's own (see
   * native/addon/priority_guard.h); until close(). */
  yieldCpu(boostAboveBytes: number, yieldBelowBytes: number, lowNice: number, intervalMs: number): void;
  yielding(): boolean;
  /** Records dropped by the drain because their length field disagreed with the ring's. */
  malformed(): number;
  close(): void;
}

export interface LoadedProgram {
  readonly id: number;
  readonly name: string;
  /** Time spent in the program and runs, counted while kernel.bpf_stats_enabled is 1. */
  readonly runTimeNs: number;
  readonly runCount: number;
}

export interface NativeAddon {
  ProbeSet: new (object: Buffer, mapSizes: Record<string, number>, possibleCpus: number) => NativeProbeSet;
  clockAnchor(): [bigint, bigint];
  loadedPrograms(): LoadedProgram[];
}

let cached: NativeAddon | string | undefined;

/** The addon, or why it cannot be loaded. */
export function loadAddon(): NativeAddon | string {
  if (cached !== undefined) return cached;
  if (process.platform !== 'linux') {
    cached = `the recorder needs Linux (this is ${process.platform})`;
    return cached;
  }
  try {
    cached = createRequire(import.meta.url)(`${PACKAGE_ROOT}build/Release/kcap.node`) as NativeAddon;
  } catch (err) {
    cached = `the kcap native addon is not built (${(err as Error).message.split('\n')[0]}); run npm install or npm rebuild`;
  }
  return cached;
}
