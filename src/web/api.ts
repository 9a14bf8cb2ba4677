// Fetching from the viewer's server (same origin only).
import type { ChartInfo, PredictionsInfo, RunInfo } from '../serve/api.js';

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { Accept: 'application/json' } });
  const body = await res.json();
  if (!res.ok) throw new Error(body?.error ?? `${path}: HTTP ${res.status}`);
  return body as T;
}

export const fetchRun = () => getJson<RunInfo>('/api/run');
export const fetchPredictions = () => getJson<PredictionsInfo>('/api/predictions');
export const fetchResults = () => getJson<Record<string, any>>('/api/results');
export const fetchCharts = () => getJson<ChartInfo[]>('/api/charts');

export function tileUrl(source: string, tile: number): string {
  return `/api/tiles/${encodeURIComponent(source)}/${tile}.png`;
}
