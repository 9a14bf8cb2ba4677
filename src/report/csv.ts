// Matrices as CSV: a header row of column names, then one row per matrix row led by its name.
function cell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * A matrix as CSV; with intervals, each column `c` is followed by `c_low` and `c_high`.
 *
 * @param corner Header of the row-name column.
 * @param rows Row names.
 * @param columns Column names.
 * @param m Values, m[i][j].
 * @param ci95 Optional intervals of the same shape.
 * @example
 * matrixCsv('rows', ['A_S'], ['vgg'], [[0.9]], [[[0.88, 0.92]]]); // 'rows,vgg,vgg_low,vgg_high\nA_S,0.9,0.88,0.92\n'
 */
export function matrixCsv(corner: string, rows: string[], columns: string[], m: number[][], ci95?: [number, number][][]): string {
  const header = ci95 ? columns.flatMap((c) => [c, `${c}_low`, `${c}_high`]) : columns;
  const lines = [[corner, ...header].map(cell).join(',')];
  rows.forEach((r, i) => lines.push([cell(r), ...m[i].flatMap((v, j) => (ci95 ? [v, ...ci95[i][j]] : [v]).map(String))].join(',')));
  return `${lines.join('\n')}\n`;
}
