// Gallery: every evaluation image, one row each (original, A_S, each S2SNet), filtered by class
// and by "misclassified by classifier X on the pictures of Y", paged.
import { h, select, selectImages, type ViewerContext } from './context.js';
import { formatHash, parseHash, type CompareState, type GalleryState } from './state.js';
import { tileElement } from './tiles.js';

/** Display side of a gallery image: an integer enlargement up to 64 px, large images shrunk to 112. */
export function gallerySide(size: number): number {
  return size < 64 ? size * Math.floor(64 / size) : Math.min(size, 112);
}

export function renderGallery(root: HTMLElement, ctx: ViewerContext, s: GalleryState): void {
  const { run, predictions } = ctx;
  const indices = selectImages(run, predictions, s);
  const pages = Math.max(1, Math.ceil(indices.length / s.size));
  const page = Math.min(s.page, pages - 1);
  const shown = indices.slice(page * s.size, (page + 1) * s.size);
  const update = (patch: Partial<GalleryState>) => ctx.go({ ...s, page: 0, ...patch });

  const perClass = run.classes.map((_, c) => run.labels.filter((y) => y === c).length);
  const cls = select('class', [['', `all classes (${run.labels.length})`], ...run.classes.map((name, c): [string, string] => [String(c), `${name} (${perClass[c]})`])], s.cls === null ? '' : String(s.cls));
  cls.onchange = () => update({ cls: cls.value === '' ? null : Number(cls.value) });
  const wrong = select('wrong', [['', 'no filter'], ...run.classifiers.map((c): [string, string] => [c, c])], s.wrong ?? '');
  const on = select('on', run.sources.map((src): [string, string] => [src.name, src.name]), s.on);
  const origRight = h('input', { id: 'origRight', type: 'checkbox' });
  origRight.checked = s.origRight;
  wrong.onchange = () => update({ wrong: wrong.value || null });
  on.onchange = () => update({ on: on.value });
  origRight.onchange = () => update({ origRight: origRight.checked });
  for (const el of [wrong, on, origRight]) el.disabled = !predictions;

  const count = h('span', { id: 'count', class: 'count', 'data-count': String(indices.length) }, `${indices.length} image${indices.length === 1 ? '' : 's'}`);
  const controls = h(
    'div',
    { class: 'controls' },
    h('label', {}, 'class ', cls),
    h('label', {}, 'misclassified by ', wrong),
    h('label', {}, 'on ', on),
    h('label', {}, origRight, 'but right on the originals'),
    count,
  );
  if (!predictions) controls.append(h('span', { class: 'note' }, 'misclassification filters need the per-image predictions of a finished evaluation'));

  const prev = h('button', { id: 'prev' }, '← previous');
  const next = h('button', { id: 'next' }, 'next →');
  prev.disabled = page === 0;
  next.disabled = page >= pages - 1;
  prev.onclick = () => ctx.go({ ...s, page: page - 1 });
  next.onclick = () => ctx.go({ ...s, page: page + 1 });
  const pager = h('div', { class: 'pager' }, prev, h('span', { id: 'pageinfo' }, `page ${page + 1} of ${pages} (images ${shown.length ? `${page * s.size + 1}–${page * s.size + shown.length}` : 'none'})`), next);

  const side = gallerySide(run.imageSize);
  const grid = h('div', { class: 'gallery', id: 'gallery' });
  grid.style.gridTemplateColumns = `max-content repeat(${run.sources.length}, ${side}px)`;
  grid.append(h('span', { class: 'head' }, ''), ...run.sources.map((src) => h('span', { class: 'head' }, src.name)));
  for (const i of shown) {
    const row = h('div', { class: 'row', 'data-index': String(i) });
    let label = `#${i} class ${run.classes[run.labels[i]]}`;
    if (s.wrong && predictions) label += ` · ${s.wrong} says ${run.classes[predictions.rows[s.on]?.[s.wrong]?.top1[i]] ?? '?'}`;
    row.append(h('span', { class: 'rowlabel' }, label));
    for (const src of run.sources) {
      const b = src.name === 'original' ? run.sources[1]?.name ?? 'original' : src.name;
      const link = h('a', { class: 'cellink', href: formatHash({ ...parseHash('#/compare'), image: i, b } as CompareState), title: `${src.name}, image #${i}: compare` });
      link.append(tileElement(run, src.name, i, side));
      row.append(link);
    }
    grid.append(row);
  }
  const title = s.wrong ? h('p', { class: 'note', id: 'filter-note' }, `Images ${s.wrong} gets wrong on the pictures of ${s.on}${s.origRight ? ' but right on the originals' : ''}.`) : '';
  root.replaceChildren(controls, title, pager, grid);
}
