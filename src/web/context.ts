// What every page of the viewer reads: the run, its predictions (when the evaluation wrote
// them), and how to move to another view.
import type { PredictionsInfo, RunInfo } from '../serve/api.js';
import type { ViewState } from './state.js';

export interface ViewerContext {
  run: RunInfo;
  predictions: PredictionsInfo | null;
  /** Shows another view (a new history entry). */
  go(state: ViewState): void;
  /** Records the current view in the URL without rendering again (sliders while dragging). */
  remember(state: ViewState): void;
}

/** Whether classifier `classifier` gets image `index` wrong on the pictures of `row` ('original' or an AE). */
export function isWrong(p: PredictionsInfo, row: string, classifier: string, index: number): boolean {
  const r = p.rows[row]?.[classifier];
  return r !== undefined && r.top1[index] !== p.labels[index];
}

/**
 * The images a gallery filter keeps, in evaluation order: of class `cls` (any when null) and,
 * when `wrong` is set, misclassified by it on `on`'s pictures (and right on the originals when
 * origRight): the images behind a cell of the cross matrix.
 */
export function selectImages(run: RunInfo, p: PredictionsInfo | null, f: { cls: number | null; wrong: string | null; on: string; origRight: boolean }): number[] {
  const out: number[] = [];
  for (let i = 0; i < run.labels.length; i++) {
    if (f.cls !== null && run.labels[i] !== f.cls) continue;
    if (f.wrong && p) {
      if (!isWrong(p, f.on, f.wrong, i)) continue;
      if (f.origRight && isWrong(p, 'original', f.wrong, i)) continue;
    }
    out.push(i);
  }
  return out;
}

/** A DOM element with attributes and children, briefly. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/** A <select> of `options` ([value, text]) with `value` selected. */
export function select(id: string, options: [string, string][], value: string): HTMLSelectElement {
  const s = h('select', { id });
  for (const [v, text] of options) {
    const o = h('option', { value: v }, text);
    if (v === value) o.selected = true;
    s.append(o);
  }
  return s;
}
