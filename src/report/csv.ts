// Matrices as CSV: a header row of column names, then one row per matrix row led by its name.
function cell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function matrixCsv(corner: string, rows: string[], columns: string[], m: number[][]): string {
  const lines = [[corner, ...columns].map(cell).join(',')];
  rows.forEach((r, i) => lines.push([cell(r), ...m[i].map((v) => String(v))].join(',')));
  return `${lines.join('\n')}\n`;
}
