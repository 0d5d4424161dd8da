// Small statistics for benchmark rounds: medians and ratios over interleaved rounds.

/** Median of the finite values; NaN when there are none. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** a / b, NaN when either side is missing or b is zero. */
export function ratio(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return Number.NaN;
  return a / b;
}

/** Minimum and maximum of the finite values, for a spread column ("54.1k–58.0k"). */
export function range(values: readonly number[]): [number, number] | undefined {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return undefined;
  return [Math.min(...finite), Math.max(...finite)];
}

/** 61234 → "61.2k"; NaN → "–". */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 1000) return `${(value / 1000).toFixed(1)}k`;
  return value.toFixed(0);
}

export function formatFixed(value: number, digits = 2, suffix = ''): string {
  return Number.isFinite(value) ? `${value.toFixed(digits)}${suffix}` : '–';
}

/** A ratio as "0.83×"; NaN → "–". */
export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '–';
}
