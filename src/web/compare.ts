// Compare: one image as two sources show it (two AEs, or an AE and the original), side by side
// at up to 16x with nearest-neighbour zoom, as a swipe overlay, and as a signed difference map
// with adjustable gain and its colour scale.
import { h, select, type ViewerContext } from './context.js';
import { colourBar, differencePixels, signedDifference } from './diff.js';
import { ZOOMS, type CompareState } from './state.js';
import { imagePixels, pixelCanvas } from './tiles.js';

export async function renderCompare(root: HTMLElement, ctx: ViewerContext, s: CompareState): Promise<void> {
  const { run, predictions } = ctx;
  const ready = run.sources.filter((src) => src.ready).map((src) => src.name);
  const n = run.labels.length;
  const image = Math.min(s.image, n - 1);
  const a = ready.includes(s.a) ? s.a : ready[0];
  const b = ready.includes(s.b) ? s.b : ready[Math.min(1, ready.length - 1)];
  let state: CompareState = { ...s, image, a, b };
  const go = (patch: Partial<CompareState>) => ctx.go({ ...state, ...patch });

  const imageInput = h('input', { id: 'image', type: 'number', min: '0', max: String(n - 1), value: String(image) });
  imageInput.onchange = () => go({ image: Math.max(0, Math.min(n - 1, Math.round(Number(imageInput.value)) || 0)) });
  const prev = h('button', { id: 'prev-image' }, '←');
  const next = h('button', { id: 'next-image' }, '→');
  prev.disabled = image === 0;
  next.disabled = image >= n - 1;
  prev.onclick = () => go({ image: image - 1 });
  next.onclick = () => go({ image: image + 1 });
  const options = ready.map((r): [string, string] => [r, r]);
  const selA = select('a', options, a);
  const selB = select('b', options, b);
  selA.onchange = () => go({ a: selA.value });
  selB.onchange = () => go({ b: selB.value });
  const zoom = select('zoom', ZOOMS.map((z): [string, string] => [String(z), `${z}x`]), String(s.zoom));
  zoom.onchange = () => go({ zoom: Number(zoom.value) });
  const split = h('input', { id: 'split', type: 'range', min: '0', max: '100', value: String(s.split) });
  const gain = h('input', { id: 'gain', type: 'range', min: '1', max: '64', value: String(s.gain) });
  const gainText = h('span', { id: 'gain-value' }, `${s.gain}x`);

  let info = `image #${image} of ${n}, class ${run.classes[run.labels[image]]}`;
  if (predictions) {
    const says = (row: string) => run.classifiers.map((c) => `${c}: ${run.classes[predictions.rows[row]?.[c]?.top1[image]] ?? '?'}`).join(', ');
    info += ` — on ${a}: ${says(a)} — on ${b}: ${says(b)}`;
  }
  const controls = h(
    'div',
    { class: 'controls' },
    h('label', {}, 'image ', prev, imageInput, next),
    h('label', {}, 'A ', selA),
    h('label', {}, 'B ', selB),
    h('label', {}, 'zoom ', zoom),
    h('label', {}, 'swipe ', split),
    h('label', {}, 'difference gain ', gain, gainText),
  );
  root.replaceChildren(controls, h('p', { class: 'note', id: 'compare-info' }, info), h('p', {}, 'Loading…'));

  const [pa, pb] = await Promise.all([imagePixels(run, a, image), imagePixels(run, b, image)]);
  const side = run.imageSize * s.zoom;
  const caption = (text: string) => h('h3', {}, text);

  const sideBySide = h('div', { class: 'pane', id: 'side-by-side' }, caption(`${a} | ${b}`), h('div', { class: 'panes' }, labelled(pixelCanvas(pa, s.zoom), 'a', a), labelled(pixelCanvas(pb, s.zoom), 'b', b)));

  const under = pixelCanvas(pa, s.zoom);
  under.classList.add('under');
  const over = pixelCanvas(pb, s.zoom);
  over.id = 'swipe-b';
  const bar = h('span', { class: 'bar' });
  const swipe = h('div', { class: 'swipe', id: 'swipe' }, under, over, bar);
  swipe.style.width = `${side}px`;
  const setSplit = (pct: number) => {
    over.style.clipPath = `inset(0 ${100 - pct}% 0 0)`;
    bar.style.left = `${(pct / 100) * side}px`;
  };
  setSplit(s.split);
  split.oninput = () => {
    setSplit(Number(split.value));
    state = { ...state, split: Number(split.value) };
    ctx.remember(state);
  };
  const swipePane = h('div', { class: 'pane' }, caption(`swipe: ${b} | ${a}`), swipe);

  const d = signedDifference(pa, pb);
  let maxAbs = 0;
  let sumAbs = 0;
  for (const v of d) {
    maxAbs = Math.max(maxAbs, Math.abs(v));
    sumAbs += Math.abs(v);
  }
  const diffCanvas = pixelCanvas(differencePixels(d, run.imageSize, run.imageSize, s.gain), s.zoom);
  diffCanvas.id = 'diff';
  const lo = h('span', { id: 'legend-low' });
  const hi = h('span', { id: 'legend-high' });
  const setGain = (g: number) => {
    diffCanvas.getContext('2d')!.putImageData(differencePixels(d, run.imageSize, run.imageSize, g), 0, 0);
    lo.textContent = `−${(1 / g).toFixed(3)}`;
    hi.textContent = `+${(1 / g).toFixed(3)}`;
    gainText.textContent = `${g}x`;
  };
  setGain(s.gain);
  gain.oninput = () => {
    setGain(Number(gain.value));
    state = { ...state, gain: Number(gain.value) };
    ctx.remember(state);
  };
  const legend = h('div', { class: 'legend' }, lo, colourBar(160, 12), hi);
  const explain = h('p', { class: 'note narrow' }, `${b} − ${a} as a share of the full pixel range (the ends saturate); blue: ${b} darker, red: ${b} brighter.`);
  const stats = h('p', { class: 'note narrow', id: 'diff-stats' }, `max |${b} − ${a}| = ${maxAbs.toFixed(3)}, mean ${(sumAbs / d.length).toFixed(4)}`);
  const diffPane = h('div', { class: 'pane' }, caption(`difference ${b} − ${a}`), diffCanvas, legend, explain, stats);

  root.replaceChildren(controls, h('p', { class: 'note', id: 'compare-info' }, info), h('div', { class: 'panes' }, sideBySide, swipePane, diffPane));
}

function labelled(c: HTMLCanvasElement, role: string, name: string): HTMLElement {
  c.dataset.role = role;
  return h('div', {}, c, h('div', { class: 'note' }, name));
}
