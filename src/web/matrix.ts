// Cross matrix: top-1 accuracy of classifier j (columns) on the pictures of row i, with the
// change against the originals and, when the results carry them, 95 % intervals. A cell opens
// the images classifier j gets wrong on AE i's reconstructions but right on the originals.
import { fetchResults } from './api.js';
import { h, selectImages, type ViewerContext } from './context.js';
import { formatHash, parseHash, type GalleryState } from './state.js';

const shade = (v: number) => `hsl(210, 60%, ${Math.round(97 - 45 * Math.max(0, Math.min(1, v)))}%)`;
const pct = (v: number) => (100 * v).toFixed(1);

/** A 95 % interval line when the results carry one ([low, high] in crossEvaluation.ci95, in the value's own shape). */
function interval(cell: unknown): HTMLElement | string {
  const ok = Array.isArray(cell) && cell.length === 2 && cell.every((v) => typeof v === 'number');
  return ok ? h('div', { class: 'sub ci' }, `95% CI ${pct(cell[0])}–${pct(cell[1])}`) : '';
}

export async function renderMatrix(root: HTMLElement, ctx: ViewerContext): Promise<void> {
  if (!ctx.run.hasResults) {
    root.replaceChildren(h('p', { class: 'note' }, ctx.run.resultsProblem ?? 'The cross matrix appears when the run has written its report (report/results.json).'));
    return;
  }
  const results = await fetchResults();
  const cx = results.crossEvaluation as { rows: string[]; columns: string[]; top1: number[][]; original: number[]; delta: number[][] };
  const table = h('table', { class: 'matrix', id: 'matrix' });
  table.append(h('tr', {}, h('th', {}, 'pictures of \\ classifier'), ...cx.columns.map((c) => h('th', {}, c))));
  const ci = (results.crossEvaluation.ci95 ?? {}) as { top1?: unknown[][]; original?: unknown[] };
  table.append(h('tr', {}, h('th', {}, 'original'), ...cx.original.map((v, j) => h('td', { style: `background:${shade(v)}` }, pct(v), interval(ci.original?.[j])))));
  cx.rows.forEach((row, i) => {
    const tr = h('tr', {}, h('th', {}, row));
    cx.columns.forEach((col, j) => {
      const v = cx.top1[i][j];
      const lines: (Node | string)[] = [pct(v), h('div', { class: 'sub' }, `${cx.delta[i][j] >= 0 ? '+' : ''}${pct(cx.delta[i][j])} pts`)];
      lines.push(interval(ci.top1?.[i]?.[j]));
      const td = h('td', { style: `background:${shade(v)}`, 'data-row': row, 'data-column': col });
      if (ctx.predictions) {
        const lost = selectImages(ctx.run, ctx.predictions, { cls: null, wrong: col, on: row, origRight: true }).length;
        lines.push(h('div', { class: 'sub' }, `${lost} lost`));
        td.dataset.lost = String(lost);
        td.append(h('a', { href: formatHash({ ...(parseHash('#/gallery') as GalleryState), wrong: col, on: row, origRight: true }), title: `images ${col} gets wrong on ${row} but right on the originals` }, ...lines));
      } else td.append(...lines);
      tr.append(td);
    });
    table.append(tr);
  });
  const note = ctx.predictions
    ? 'Top-1 accuracy (%) of each classifier (columns) on the pictures of each row; below, the change against the originals and the number of images it gets right on the originals but wrong on these pictures. Click a cell to see those images.'
    : 'Top-1 accuracy (%) of each classifier (columns) on the pictures of each row. This run has no per-image predictions, so cells do not open images; rerun its evaluation with this version to get them.';
  root.replaceChildren(h('p', { class: 'note' }, note), table);
}
