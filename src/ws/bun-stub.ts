// Lets Hono's `hono/bun` adapter load on Node without giving anyone else a `Bun` global.
import type { Logger } from "../log.ts";

/**
 * `hono/bun` reads the global `Bun` while it loads (its SSG helper does `const { write } = Bun`), so on Node
 * `import { upgradeWebSocket, websocket } from "hono/bun"` throws before oryx sees the app, although the
 * WebSocket helpers only need Bun's server API, which oryx offers. A plain `Bun` global would fix that and break
 * everything else: runtime detection (`typeof Bun`, `globalThis.Bun`: Hono's getRuntimeKey, Elysia's adapter
 * choice, srvx, @whatwg-node) would take Bun's paths. So `Bun` on globalThis is an accessor that answers with a
 * stub only to code in Hono's `adapter/bun/` directory (the caller is read from the stack) and with `undefined`
 * to everyone else: `typeof Bun` stays "undefined" outside. The stub's members are functions that throw
 * `BunUnavailableError` when called (`Bun.write` for toSSG, `Bun.file` for serveStatic): what cannot work on
 * Node says so by name, when used, not at import.
 *
 * What is visible everywhere: `"Bun" in globalThis` is true (srvx's mtlsPlugin tests that way), and each read of
 * `Bun` captures one stack frame (about 3–5 µs; libraries read it at load or setup, not per request).
 */

import { OryxError } from "../errors.ts";

/** The directories whose modules get the stub: Hono's Bun adapter, ES module and CommonJS builds. */
const STUB_CALLERS = /[\\/]node_modules[\\/]hono[\\/]dist[\\/](?:cjs[\\/])?adapter[\\/]bun[\\/]/;

/** A call to a member of Bun's API that oryx does not provide on Node. */
export class BunUnavailableError extends OryxError {
  constructor(member: string) {
    super("ORYX_ERR_BUN_UNAVAILABLE", `Bun.${member} is not available under oryx on Node: of hono/bun, upgradeWebSocket, websocket, getConnInfo and getBunServer work; serveStatic and toSSG need Bun itself`);
    this.name = "BunUnavailableError";
  }
}

/** Every string member is a function that throws; symbols (inspection, `then`) are absent. */
const stub: object = new Proxy(Object.freeze({}), {
  get(_target, key) {
    if (typeof key !== "string") return undefined;
    return () => {
      throw new BunUnavailableError(key);
    };
  },
});

/** The file of the function that read `Bun` (a path, or a file: URL for an ES module). */
function callerFile(accessor: (...args: never[]) => unknown): string | undefined {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  const holder: { stack?: string } = {};
  try {
    Error.stackTraceLimit = 1;
    Error.prepareStackTrace = (_err, frames) => frames[0]?.getFileName() ?? undefined;
    Error.captureStackTrace(holder, accessor); // frames from the accessor's caller on
    return holder.stack;
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
}

/** Installs the accessor once per process; a later assignment to `globalThis.Bun` (a test's own mock) wins. */
export function installBunStub(log: Logger | null): void {
  if (Object.getOwnPropertyDescriptor(globalThis, "Bun") !== undefined) return; // Bun itself, or installed already
  const logged = new Set<string>();
  const get = (): object | undefined => {
    const file = callerFile(get);
    if (file === undefined || !STUB_CALLERS.test(file)) return undefined;
    if (!logged.has(file)) {
      logged.add(file);
      log?.debug(`gave ${file} a stub for the global Bun (hono/bun reads it; its members throw if called)`);
    }
    return stub;
  };
  Object.defineProperty(globalThis, "Bun", {
    get,
    set(value: unknown) {
      Object.defineProperty(globalThis, "Bun", { value, writable: true, configurable: true, enumerable: true });
    },
    configurable: true,
    enumerable: false,
  });
}
