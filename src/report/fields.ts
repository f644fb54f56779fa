/**
 * The text of `kcap fields`: every filter field with its type and a one-line description, in
 * the order the field tables declare them (grouped by class), like `sysdig -l`: event fields,
 * then L7 fields; or one JSON object per field.
 */
import { FIELDS as EVENT_FIELDS, L7_FIELDS } from '../filter/index.js';

/** Event fields, then L7 fields. */
const FIELDS = [...EVENT_FIELDS, ...L7_FIELDS];

export function fieldsText(json: boolean): string {
  if (json) return `${FIELDS.map(({ name, type, desc }) => JSON.stringify({ name, type, desc })).join('\n')}\n`;
  const width = Math.max(...FIELDS.map((f) => f.name.length));
  const lines: string[] = [];
  let group = '';
  for (const f of FIELDS) {
    const cls = f.name.slice(0, f.name.indexOf('.'));
    if (cls !== group) {
      if (group !== '') lines.push('');
      lines.push(`${cls}:`);
      group = cls;
    }
    lines.push(`  ${f.name.padEnd(width)}  ${f.type.padEnd(6)}  ${f.desc}`);
  }
  return `${lines.join('\n')}\n`;
}
