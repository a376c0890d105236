// Least-squares line through (x, y) points: how a soak turns a timeline into "does it
// grow?". Pure, so the arithmetic is tested without processes.

export interface LinearFit {
  /** dy/dx. */
  slope: number;
  intercept: number;
  /** Coefficient of determination, 0..1; 1 when every y is equal (a flat line fits exactly). */
  r2: number;
  points: number;
}

export function linearFit(points: readonly (readonly [number, number])[]): LinearFit {
  const n = points.length;
  if (n === 0) return { slope: 0, intercept: 0, r2: 1, points: 0 };
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxx += (x - meanX) ** 2;
    sxy += (x - meanX) * (y - meanY);
    syy += (y - meanY) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const r2 = syy === 0 ? 1 : sxx === 0 ? 0 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept: meanY - slope * meanX, r2, points: n };
}
