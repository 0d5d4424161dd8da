// Markdown tables: what every benchmark prints, readable in a terminal and in RESULTS.md as is.

export interface Column {
  title: string;
  /** Numbers read best right-aligned. */
  align?: 'left' | 'right';
}

export function markdownTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((column, index) => Math.max(column.title.length, ...rows.map((row) => (row[index] ?? '').length), 3));
  const pad = (text: string, index: number): string =>
    columns[index].align === 'right' ? text.padStart(widths[index]) : text.padEnd(widths[index]);
  const line = (cells: readonly string[]): string => `| ${columns.map((_, index) => pad(cells[index] ?? '', index)).join(' | ')} |`;
  const rule = `|${columns.map((column, index) => (column.align === 'right' ? `${'-'.repeat(widths[index] + 1)}:` : '-'.repeat(widths[index] + 2))).join('|')}|`;
  return [line(columns.map((column) => column.title)), rule, ...rows.map(line)].join('\n');
}
