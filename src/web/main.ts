// The viewer's entry point: loads the run, renders the view the URL names, follows the URL,
// and while the run is still going, polls it and shows what has finished.
import type { RunInfo } from '../serve/api.js';
import { fetchPredictions, fetchRun } from './api.js';
import { renderCharts } from './charts.js';
import { renderCompare } from './compare.js';
import { h, type ViewerContext } from './context.js';
import { renderGallery } from './gallery.js';
import { renderMatrix } from './matrix.js';
import { formatHash, parseHash, type ViewState } from './state.js';

const POLL_MS = 3000;
const root = document.getElementById('view')!;

const ctx: ViewerContext = {
  run: undefined as unknown as RunInfo,
  predictions: null,
  go(state: ViewState) {
    location.hash = formatHash(state);
  },
  remember(state: ViewState) {
    history.replaceState(null, '', formatHash(state));
  },
};

let rendering = 0;

async function render(): Promise<void> {
  const ticket = ++rendering;
  const state = parseHash(location.hash);
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) a.classList.toggle('active', a.dataset.view === state.view);
  try {
    if (state.view === 'gallery') renderGallery(root, ctx, state);
    else if (state.view === 'compare') await renderCompare(root, ctx, state);
    else if (state.view === 'matrix') await renderMatrix(root, ctx);
    else await renderCharts(root, ctx);
    if (ticket === rendering) document.body.dataset.rendered = formatHash(state);
  } catch (e) {
    if (ticket === rendering) root.replaceChildren(h('p', { class: 'error' }, `Could not show this view: ${(e as Error).message}`));
  }
}

function showProgress(run: RunInfo): boolean {
  const done = run.jobs.filter((j) => j.status === 'done').length;
  const going = done < run.jobs.length;
  document.getElementById('progress')!.textContent = going ? `run in progress: ${done}/${run.jobs.length} jobs done (refreshes by itself)` : '';
  return going;
}

/** What a re-render depends on: which sources are ready, and whether results and predictions exist. */
const shape = (r: RunInfo) => JSON.stringify([r.sources, r.hasResults, r.hasPredictions, r.labels.length]);

async function load(): Promise<void> {
  ctx.run = await fetchRun();
  ctx.predictions = ctx.run.hasPredictions ? await fetchPredictions() : null;
  document.getElementById('run-name')!.textContent = `${ctx.run.name} (${ctx.run.dataset}, ${ctx.run.labels.length} evaluation images)`;
  document.title = `s2snets: ${ctx.run.name}`;
}

async function poll(): Promise<void> {
  const before = shape(ctx.run);
  await load();
  if (shape(ctx.run) !== before) await render();
  if (showProgress(ctx.run)) setTimeout(() => void poll(), POLL_MS);
}

async function start(): Promise<void> {
  try {
    await load();
  } catch (e) {
    root.replaceChildren(h('p', { class: 'error' }, `Could not load the run: ${(e as Error).message}`));
    return;
  }
  if (!location.hash) history.replaceState(null, '', '#/gallery');
  window.addEventListener('hashchange', () => void render());
  await render();
  if (showProgress(ctx.run)) setTimeout(() => void poll(), POLL_MS);
}

void start();
