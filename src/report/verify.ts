/**
 * The text of `kcap verify`: the verdict with what was good, then one line per problem found
 * (block, offset, what, bytes lost).
 */
import type { VerifyReport } from '../capture/index.js';

export function verifyText(file: string, r: VerifyReport): string {
  const blocks = Object.entries(r.blocks).map(([k, n]) => `${k} ${n}`).join(', ');
  const head = r.status === 'unreadable'
    ? `${file}: unreadable`
    : `${file}: ${r.status}: ${r.chunks} chunks, ${r.records} records good; blocks: ${blocks}`;
  const lines = r.problems.map((p) =>
    `  ${p.block !== undefined ? `block ${p.block}, ` : ''}offset ${p.offset}: ${p.message}${p.lostBytes ? ` (${p.lostBytes} bytes lost)` : ''}`);
  if (r.lostBytes) lines.push(`  ${r.lostBytes} bytes lost in all`);
  return [head, ...lines].join('\n') + '\n';
}
