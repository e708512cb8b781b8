/**
 * The request's URL as `Request.url` serializes it, without the URL parser when it can be avoided.
 *
 * Parsing a URL (or just checking that it parses) costs about a microsecond, a tenth of a small exchange. Most
 * requests name a lowercase host and a plain path, which the URL parser would hand back unchanged; for those the
 * string as built is already the answer. Anything else (uppercase, IPv6, IDNA, a default port, dot segments,
 * percent-encoded dots, characters the parser would encode) goes through `new URL`, which also rejects what
 * cannot be a URL. A property test (test/gateway/url.test.ts) checks the fast answer against the parser's.
 */

// Lowercase LDH labels, an optional port without a leading zero. (No trailing dot: the parser may drop it.)
const PLAIN_HOST = /^(?:[a-z0-9-]+\.)*([a-z0-9-]+)(?::([1-9][0-9]{0,4}))?$/;
// A label the parser reads as a number makes the host an IPv4 address, which it rewrites unless canonical.
const CANONICAL_IPV4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;
// Path and query characters the parser keeps as they are (no `'`, which it encodes in a special URL's query).
const PLAIN_TARGET = /^\/[A-Za-z0-9\-._~!$&()*+,;=:@/%]*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/%?]*)?$/;
// Dot segments (`/.`, `/..`, also spelled %2e) are resolved by the parser.
const DOT_SEGMENT = /\/\.|%2e/i;

// Clients send the same Host on every request: the last answer is kept (per scheme).
let lastHttpHost = "";
let lastHttpsHost = "";

function plainHost(host: string, scheme: "http" | "https"): boolean {
  if (host === (scheme === "http" ? lastHttpHost : lastHttpsHost) && host !== "") return true;
  if (!checkHost(host, scheme)) return false;
  if (scheme === "http") lastHttpHost = host;
  else lastHttpsHost = host;
  return true;
}

function checkHost(host: string, scheme: "http" | "https"): boolean {
  const m = PLAIN_HOST.exec(host);
  if (m === null || host.includes("xn--")) return false;
  const last = m[1]!;
  const c = last.charCodeAt(0);
  if (c >= 0x30 && c <= 0x39) {
    const colon = host.indexOf(":");
    if (!CANONICAL_IPV4.test(colon === -1 ? host : host.slice(0, colon))) return false;
  }
  const port = m[2];
  if (port !== undefined) {
    const n = Number(port);
    if (n > 65535 || (scheme === "http" && n === 80) || (scheme === "https" && n === 443)) return false;
  }
  return true;
}

function plainTarget(target: string): boolean {
  if (!PLAIN_TARGET.test(target)) return false;
  const q = target.indexOf("?");
  return !DOT_SEGMENT.test(q === -1 ? target : target.slice(0, q));
}

/**
 * `scheme://host` + an origin-form `target`, serialized as `new URL(...).href` would; null when it is not a URL.
 * `target` may also be absolute-form or `*` (then `raw` is used as built by the caller).
 */
export function serializeUrl(scheme: "http" | "https", host: string, target: string, raw: string): string | null {
  if (target.charCodeAt(0) === 0x2f /* / */ && plainHost(host, scheme) && plainTarget(target)) return raw;
  try {
    return new URL(raw).href;
  } catch {
    return null;
  }
}
