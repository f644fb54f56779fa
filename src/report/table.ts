/**
 * Aligned text tables: left-aligned text columns, right-aligned numeric ones, two spaces apart.
 * Widths count UTF-16 units, which is exact for what reports print (ASCII plus µ and →).
 */
export interface Column {
  readonly title: string;
  readonly align?: 'left' | 'right';
}

export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => columns.map((c, i) => {
    const cell = cells[i] ?? '';
    const last = i === columns.length - 1;
    if (c.align === 'right') return cell.padStart(widths[i]!);
    return last ? cell : cell.padEnd(widths[i]!);
  }).join('  ').trimEnd();
  return [line(columns.map((c) => c.title)), ...rows.map(line)].join('\n');
}

/** Text cut to `width` characters, the cut marked by an ellipsis; for cells of unbounded length
 * (SQL, keys, error messages) in text reports, whose --json keeps them whole. */
export function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}
