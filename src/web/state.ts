// The view lives in the URL's fragment, so that any view can be bookmarked or shared:
//   #/gallery?class=3&wrong=lenet5&on=S2S-resnet&origRight=1&page=2&size=1000
//   #/compare?image=12&a=original&b=S2S-lenet5&zoom=8&split=50&gain=4
//   #/matrix   #/charts
// Values that do not parse fall back to their defaults.

export type ViewName = 'gallery' | 'compare' | 'matrix' | 'charts';

export interface GalleryState {
  view: 'gallery';
  /** Class index, or null for every class. */
  cls: number | null;
  /** Keep images that classifier `wrong` gets wrong on the pictures of `on`. */
  wrong: string | null;
  on: string;
  /** ...and right on the originals (what a cross-matrix cell lists). */
  origRight: boolean;
  page: number;
  size: number;
}

export interface CompareState {
  view: 'compare';
  image: number;
  a: string;
  b: string;
  zoom: number;
  /** Swipe position: percent of the width that shows B. */
  split: number;
  gain: number;
}

export type ViewState = GalleryState | CompareState | { view: 'matrix' } | { view: 'charts' };

export const ZOOMS = [1, 2, 4, 8, 16];
export const MAX_PAGE_SIZE = 1000;

function int(v: string | null, fallback: number, lo: number, hi: number): number {
  const n = v === null || v === '' ? NaN : Number(v);
  return Number.isInteger(n) && n >= lo && n <= hi ? n : fallback;
}

export function parseHash(hash: string): ViewState {
  const [path, query = ''] = hash.replace(/^#\/?/, '').split('?');
  const q = new URLSearchParams(query);
  if (path === 'compare') {
    const zoom = int(q.get('zoom'), 8, 1, 16);
    return {
      view: 'compare',
      image: int(q.get('image'), 0, 0, Number.MAX_SAFE_INTEGER),
      a: q.get('a') ?? 'original',
      b: q.get('b') ?? 'A_S',
      zoom: ZOOMS.includes(zoom) ? zoom : 8,
      split: int(q.get('split'), 50, 0, 100),
      gain: int(q.get('gain'), 4, 1, 64),
    };
  }
  if (path === 'matrix' || path === 'charts') return { view: path };
  const cls = q.get('class');
  return {
    view: 'gallery',
    cls: cls === null ? null : int(cls, -1, 0, 1e6) < 0 ? null : Number(cls),
    wrong: q.get('wrong') || null,
    on: q.get('on') ?? 'original',
    origRight: q.get('origRight') === '1',
    page: int(q.get('page'), 0, 0, 1e6),
    size: int(q.get('size'), MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE),
  };
}

export function formatHash(s: ViewState): string {
  const q = new URLSearchParams();
  if (s.view === 'gallery') {
    if (s.cls !== null) q.set('class', String(s.cls));
    if (s.wrong) {
      q.set('wrong', s.wrong);
      q.set('on', s.on);
      if (s.origRight) q.set('origRight', '1');
    }
    if (s.page) q.set('page', String(s.page));
    if (s.size !== MAX_PAGE_SIZE) q.set('size', String(s.size));
  } else if (s.view === 'compare') {
    for (const [k, v] of Object.entries({ image: s.image, a: s.a, b: s.b, zoom: s.zoom, split: s.split, gain: s.gain })) q.set(k, String(v));
  }
  const text = q.toString();
  return `#/${s.view}${text ? `?${text}` : ''}`;
}
