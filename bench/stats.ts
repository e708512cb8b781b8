/** Medians, and ratios taken per round before the median (so a slow round slows both sides of its ratio). */

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median over rounds of a[round] / b[round], for the rounds where both have a value (b > 0). */
export function medianRatio(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): number | null {
  const ratios: number[] = [];
  for (const [round, x] of a) {
    const y = b.get(round);
    if (y !== undefined && y > 0) ratios.push(x / y);
  }
  return median(ratios);
}

/** Smallest and largest, for a spread column. */
export function range(xs: readonly number[]): [number, number] | null {
  if (xs.length === 0) return null;
  return [Math.min(...xs), Math.max(...xs)];
}
