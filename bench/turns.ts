// The engines take turns (ours, PyTorch, ours, ...) so that load drifting over a run does not
// decide a ratio. A ratio is taken within each turn, where both engines met the same load, and
// printed as the median over turns with the lowest and highest turn beside it: the spread says
// how far one figure can be trusted on that machine.

/** A ratio over alternating turns: the median turn's, and the range over all turns. */
export interface TurnRatio {
  median: number;
  low: number;
  high: number;
  turns: number;
}

/**
 * Per-turn ratios ours[i] / reference[i], summarised.
 * @param ours our rate in each turn
 * @param reference the reference's rate in the same turns
 * @returns null when no turn has both rates
 * @example turnRatio([10, 12, 11], [10, 10, 10]); // { median: 1.1, low: 1, high: 1.2, turns: 3 }
 */
export function turnRatio(ours: (number | undefined)[], reference: (number | undefined)[]): TurnRatio | null {
  const ratios = ours.flatMap((o, i) => {
    const r = reference[i];
    return o !== undefined && r !== undefined && r > 0 ? [o / r] : [];
  });
  if (ratios.length === 0) return null;
  ratios.sort((a, b) => a - b);
  return { median: ratios[Math.floor(ratios.length / 2)], low: ratios[0], high: ratios[ratios.length - 1], turns: ratios.length };
}

/**
 * A ratio for a table cell: "1.23 (1.05-1.31)", or "n/a".
 * @example formatRatio({ median: 1.1, low: 1, high: 1.2, turns: 3 }); // '1.10 (1.00-1.20)'
 */
export function formatRatio(r: TurnRatio | null, digits = 2): string {
  if (!r) return 'n/a';
  return r.turns > 1 ? `${r.median.toFixed(digits)} (${r.low.toFixed(digits)}-${r.high.toFixed(digits)})` : r.median.toFixed(digits);
}
