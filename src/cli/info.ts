/**
 * `kcap info FILE`: what a capture holds (header, machine, time range, events by type, tables,
 * losses, compression), as aligned text or, with --json, as the CaptureSummary object.
 */
import type { Command } from 'commander';
import { summarize, type CaptureSummary } from '../capture/index.js';
import { withCapture } from './args.js';

export function registerInfo(program: Command): void {
  program.command('info')
    .description('show what a capture file holds: machine, time range, events by type, tables, losses, compression')
    .argument('<file>', 'capture file (.kcap)')
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const summary = await withCapture(file, summarize);
      process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
    });
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

function seconds(ns: string): string {
  return `${(Number(BigInt(ns) / 1000n) / 1e6).toFixed(6)} s`;
}

export function formatSummary(s: CaptureSummary): string {
  const m = s.machine;
  const rows: Array<[string, string]> = [
    ['file', `${s.path} (${bytes(s.fileBytes)}, format ${s.formatVersion}${s.indexed ? '' : ', no index: scanned'})`],
    ['writer', s.writer + (s.command.length ? ` (${s.command.join(' ')})` : '')],
    ['machine', `${m.hostname} ${m.arch}, ${m.cpus} CPUs, ${bytes(m.memoryBytes)}, kernel ${m.kernelRelease}${m.os ? `, ${m.os}` : ''}`],
    ['boot id', m.bootId],
    ['schema', `version ${s.schemaVersion}, snaplen ${s.snaplen}`],
    ['time', s.time ? `${s.time.firstUtc} .. ${s.time.lastUtc} (${seconds(s.time.durationNs)})` : 'no events'],
    ['records', `${s.records} in ${s.chunks} chunks`],
    ['lost', `${s.lost} events dropped by the kernel`],
    ['size', `${bytes(s.rawBytes)} raw in ${bytes(s.compressedBytes)} of chunks (ratio ${s.compressionRatio.toFixed(2)})`],
    ['tables', Object.entries(s.tables).map(([k, n]) => `${k} ${n}`).join(', ')],
  ];
  const width = Math.max(...s.events.map((e) => e.name.length), 8);
  const events = s.events.map((e) => `  ${e.name.padEnd(width)} ${String(e.count).padStart(10)}`);
  const problems = s.problems.map((p) => `  ${p}`);
  return [
    ...rows.map(([k, v]) => `${k.padEnd(8)}  ${v}`),
    'events by type:',
    ...(events.length ? events : ['  (none)']),
    ...(problems.length ? ['problems:', ...problems] : []),
  ].join('\n') + '\n';
}
