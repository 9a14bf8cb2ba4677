// Charts: the static report's vega-lite specs drawn by vega in the browser, with tooltips, and
// zoom and pan (drag, wheel; double-click resets) on charts with two quantitative axes.
import { fetchCharts } from './api.js';
import { h, type ViewerContext } from './context.js';

declare const vega: any;
declare const vegaLite: any;

type Spec = Record<string, any>;

const quantitative = (enc: Spec | undefined, ch: string) => enc?.[ch]?.type === 'quantitative';

/** The spec with tooltips on every mark, and scale-bound interval selections on x/y-quantitative unit views. */
export function interactive(spec: Spec): Spec {
  const zoomable = (unit: Spec) => quantitative(unit.encoding, 'x') && quantitative(unit.encoding, 'y');
  const out: Spec = { ...spec };
  if (out.layer) {
    const first = out.layer[0];
    const enc = { ...(out.encoding ?? {}), ...(first.encoding ?? {}) };
    if (zoomable({ encoding: enc })) out.layer = [{ ...first, params: [{ name: 'zoom', select: 'interval', bind: 'scales' }] }, ...out.layer.slice(1)];
  } else if (out.spec) out.spec = interactive(out.spec);
  else if (out.mark && zoomable(out)) out.params = [{ name: 'zoom', select: 'interval', bind: 'scales' }];
  return out;
}

export async function renderCharts(root: HTMLElement, ctx: ViewerContext): Promise<void> {
  if (!ctx.run.hasResults) {
    root.replaceChildren(h('p', { class: 'note' }, ctx.run.resultsProblem ?? 'Charts appear when the run has written its report (report/results.json).'));
    return;
  }
  const charts = await fetchCharts();
  root.replaceChildren();
  for (const c of charts) {
    const box = h('div', { class: 'chart', 'data-chart': c.id });
    root.append(h('figure', {}, box, h('figcaption', {}, c.caption)));
    const config = { font: 'system-ui, DejaVu Sans, sans-serif', mark: { tooltip: true }, legend: { labelLimit: 0 }, axis: { labelLimit: 220 } };
    const compiled = vegaLite.compile({ ...interactive(c.spec), config }).spec;
    const view = new vega.View(vega.parse(compiled), { renderer: 'svg', container: box, hover: true });
    await view.runAsync();
  }
}
