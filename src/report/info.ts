/**
 * The text of `kcap info`: what a capture holds (file, writer, machine, time range, records,
 * losses, compression, tables), then events by type and any problems, as aligned lines.
 */
import type { CaptureSummary } from '../capture/index.js';
import { bytesText, durationText } from './units.js';

export function infoText(s: CaptureSummary): string {
  const m = s.machine;
  const rows: Array<[string, string]> = [
    ['file', `${s.path} (${bytesText(s.fileBytes)}, format ${s.formatVersion}${s.indexed ? '' : ', no index: scanned'})`],
    ['writer', s.writer + (s.command.length ? ` (${s.command.join(' ')})` : '')],
    ['machine', `${m.hostname} ${m.arch}, ${m.cpus} CPUs, ${bytesText(m.memoryBytes)}, kernel ${m.kernelRelease}${m.os ? `, ${m.os}` : ''}`],
    ['boot id', m.bootId],
    ['schema', `version ${s.schemaVersion}, snaplen ${s.snaplen}`],
    ['time', s.time ? `${s.time.firstUtc} .. ${s.time.lastUtc} (${durationText(Number(s.time.durationNs))})` : 'no events'],
    ['records', `${s.records} in ${s.chunks} chunks`],
    ['lost', `${s.lost} events dropped by the kernel`],
    ['size', `${bytesText(s.rawBytes)} raw in ${bytesText(s.compressedBytes)} of chunks (ratio ${s.compressionRatio.toFixed(2)})`],
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
