// @ts-check
// What every peer of the lean app (issue 5's scenarios) serves, in one place: the bodies, the ~1 ms CPU handler,
// and (for the fetch-handler peers, oryx and srvx) the same plain fetch handler, so the peers differ in the
// server, never in the app. Every server runs at its defaults (keep-alive timeout included).

/** The port to listen on (the suite passes a free one). */
export const PORT = Number(process.env.PORT ?? 8080);

export const HELLO = "Hello, World!";

/** GET /64k: 65,536 bytes, allocated once. */
export const BODY_64K = new Uint8Array(64 * 1024).fill(0x61);

/** A loop V8 cannot fold away: `n` rounds of an integer hash; returns the hash so the result is used. */
export function spin(/** @type {number} */ n) {
  let x = 0x9e3779b9 | 0;
  for (let i = 0; i < n; i++) x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + i) | 0;
  return x >>> 0;
}

/** How many rounds of spin() take `targetMs` here: the fastest of a few timed runs, after a warm-up. */
export function calibrate(targetMs = 1) {
  const probe = 2_000_000;
  spin(probe);
  let best = Infinity;
  for (let k = 0; k < 7; k++) {
    const t = performance.now();
    spin(probe);
    best = Math.min(best, performance.now() - t);
  }
  return Math.max(1, Math.round((probe * targetMs) / best));
}

/** Rounds per /cpu request: CPU_ITERS from the suite (calibrated once, the same for every peer), else our own. */
export const CPU_ITERS = Number(process.env.CPU_ITERS) > 0 ? Number(process.env.CPU_ITERS) : calibrate();

/** GET /cpu's work: ~1 ms of synchronous CPU. */
export function cpuWork() {
  return spin(CPU_ITERS);
}

/** The path of an absolute URL (what a router needs), without building a URL object. */
export function pathOf(/** @type {string} */ url) {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  const q = url.indexOf("?", start);
  return q === -1 ? url.slice(start) : url.slice(start, q);
}

/**
 * @typedef {{ new (body?: any, init?: ResponseInit): Response; json(data: unknown, init?: ResponseInit): Response }} ResponseClass
 */

const OCTETS = { "content-type": "application/octet-stream" };

/**
 * The plain fetch handler of the fetch-handler peers, built on the Response class the server prefers
 * (`Response` for oryx, srvx's `FastResponse` for srvx). Synchronous except where it reads a body.
 * @param {ResponseClass} R
 * @returns {(request: Request) => Response | Promise<Response>}
 */
export function fetchHandler(R) {
  return (request) => {
    const path = pathOf(request.url);
    if (request.method === "GET") {
      if (path === "/") return new R(HELLO);
      if (path === "/64k") return new R(BODY_64K, { headers: OCTETS });
      if (path === "/cpu") return new R(`cpu ${cpuWork()}`);
      if (path.startsWith("/json/")) return R.json({ id: path.slice(6), ok: true });
    } else if (request.method === "POST" && path === "/echo") {
      return request.arrayBuffer().then((body) => new R(body, { headers: OCTETS }));
    }
    return new R("not found", { status: 404 });
  };
}
