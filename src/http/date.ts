/**
 * The `Date` header value in IMF-fixdate form (RFC 9110 §5.6.7). Formatting a date costs more than a whole
 * small response's other headers, so it is formatted at most once per second and reused.
 */
let cachedSecond = -1;
let cachedValue = "";

export function httpDate(nowMs: number = Date.now()): string {
  const second = Math.floor(nowMs / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedValue = new Date(second * 1000).toUTCString();
  }
  return cachedValue;
}
