import { existsSync, statSync } from "node:fs";
import type http from "node:http";
import type net from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { types } from "node:util";
import { APP_EXTENSIONS, parseAppSpec, type AppSpec, type InterfaceChoice } from "../config/app-spec.ts";
import { AppLoadError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { TS_EXTENSIONS, chooseTypeScriptLoader, prepareTypeScript } from "../typescript.ts";
import type { FetchHandler } from "./fetch.ts";
import { classifyFunction } from "./function-kind.ts";
import { installBunStub } from "../ws/bun-stub.ts";
import type { WebSocketHandler } from "../ws/context.ts";
import { captureListen, isHttpServer, serverForListener, type NodeListener } from "./node.ts";

/** A problem with the app the user named: its file, its export, its shape, or an error it threw while loading. */
export { AppLoadError };

export type { AppSpec };
export { APP_EXTENSIONS, parseAppSpec };

export type { InterfaceChoice };

export type LoadedApp =
  | {
      spec: AppSpec;
      interface: "fetch";
      fetch: FetchHandler;
      /** Bun's `websocket` handlers beside `fetch` (`export default { fetch, websocket }`), or null. */
      websocket: WebSocketHandler<unknown> | null;
    }
  | {
      spec: AppSpec;
      interface: "node";
      /** The http.Server that will take oryx's sockets: the app's own (exported, captured, Fastify's) or one made for it. */
      server: http.Server;
      /** What was found, for the logs: "Express-style listener", "Koa app", "Fastify instance", … */
      shape: string;
      /** True when the app's server already saw 'listening' (captured `listen()` calls). */
      listening: boolean;
    };

export interface LoadOptions {
  interface?: InterfaceChoice;
  /** What `server.address()` reports to an app whose module calls `listen()` itself. */
  address?: net.AddressInfo | string | null;
  /** How often Node checks a captured server's header and request timeouts. */
  checkingIntervalMs?: number;
  /**
   * How long to wait for an app that is not ready once its module has loaded (--listen-timeout): a module with no
   * export that calls `listen()` later, or an export that is a promise. 30 s unless given.
   */
  listenTimeoutMs?: number;
  /** Where the loader's decisions go (debug), and what it notices about the app's servers (info). */
  log?: Logger;
}

const DEFAULT_LISTEN_TIMEOUT_MS = 30_000;

const SILENT: Logger = {
  debug() {},
  info() {},
  warning() {},
  error() {},
  critical() {},
  isEnabled: () => false,
  reopen() {},
  close() {},
};



/**
 * A TypeScript (or Babel) module compiled to CommonJS, as tsx does for a .ts file outside a `"type": "module"`
 * package, sets `exports.default` beside `__esModule`; `import()` then hands all of `module.exports` over as the
 * default. Its ES exports are what the author wrote, so those are what oryx looks in: `default` only if it
 * exported one. A CommonJS module that exports nothing (`module.exports` left an empty object, as in a
 * `server.js` that only calls `listen()`) has no exports either.
 */
function esModuleExports(mod: Record<string, unknown>): Record<string, unknown> {
  const cjs = mod.default as Record<string, unknown> | null | undefined;
  if (cjs !== null && typeof cjs === "object" && cjs.__esModule === true) {
    const { default: _whole, ...named } = mod;
    return { ...named, ...cjs };
  }
  if (Object.keys(mod).length === 1 && isEmptyObject(cjs)) return {};
  return mod;
}

function isEmptyObject(v: unknown): boolean {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return (proto === Object.prototype || proto === null) && Reflect.ownKeys(v).length === 0;
}

/** Loads the app module relative to `cwd` and finds what to serve in the named export. */
export async function loadApp(spec: AppSpec, cwd: string = process.cwd(), opts: LoadOptions = {}): Promise<LoadedApp> {
  const choice = opts.interface ?? "auto";
  const log = opts.log ?? SILENT;
  const waitMs = opts.listenTimeoutMs ?? DEFAULT_LISTEN_TIMEOUT_MS;
  const file = path.resolve(cwd, spec.module);
  const ext = path.extname(file);
  if (!existsSync(file)) throw new AppLoadError(`cannot find the app module ${spec.module} (looked for ${file})`);
  if (!statSync(file).isFile()) throw new AppLoadError(`the app module ${spec.module} is not a file`);
  if (!(APP_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new AppLoadError(`the app module ${spec.module} has extension "${ext}"; oryx loads ${APP_EXTENSIONS.join(" ")}`);
  }
  let importModule = async (): Promise<Record<string, unknown>> => (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  if (TS_EXTENSIONS.has(ext)) {
    const loader = chooseTypeScriptLoader(file);
    log.debug(`TypeScript: ${spec.module} is compiled by ${loader.compiler === "swc" ? "SWC (@swc-node/register)" : "tsx"} (${loader.reason})`);
    try {
      importModule = await prepareTypeScript(file, loader);
    } catch (err) {
      if (loader.compiler !== "swc") throw err;
      throw new AppLoadError(`cannot load SWC (@swc-node/register and @swc/core), which compiles ${spec.module} because ${loader.reason}: ${errorSummary(err)}`);
    }
  }

  // Before the import: `hono/bun` reads the global Bun while it loads (src/ws/bun-stub.ts says how, and to whom).
  installBunStub(log);
  // A module may start its own server (`app.listen(3000)`) while loading or later: capture it instead of binding.
  const capture = captureListen(opts.address ?? null, opts.checkingIntervalMs ?? 1000, log);
  try {
    let mod: Record<string, unknown>;
    try {
      mod = esModuleExports(await importModule());
    } catch (err) {
      throw new AppLoadError(`the app module ${spec.module} threw while loading: ${errorSummary(err)}`, err);
    }
    const capturedServer = (): LoadedApp => ({
      spec,
      interface: "node",
      server: capture.server!,
      shape: "a server started by the module (listen() was captured)",
      listening: true,
    });
    if (!(spec.exportName in mod) || mod[spec.exportName] === undefined) {
      const names = Object.keys(mod);
      const has = names.length === 0 ? "exports nothing" : `has no export named "${spec.exportName}" (its exports are: ${names.join(", ")})`;
      // An export that could be served means the default was forgotten (or another was meant): say so at once.
      const servable = names.filter((n) => hasAppShape(mod[n]) || types.isPromise(mod[n]));
      if (capture.server === null && spec.exportName === "default" && servable.length > 0) {
        throw new AppLoadError(`the app module ${spec.module} ${has}; to serve one, name it: ${servable.map((n) => `${spec.module}:${n}`).join(" or ")}`);
      }
      if (spec.exportName !== "default" || choice === "fetch") {
        throw new AppLoadError(`the app module ${spec.module} has no export named "${spec.exportName}" (${names.length === 0 ? "it exports nothing" : `its exports are: ${names.join(", ")}`})`);
      }
      if (capture.server === null) {
        // No export and no server yet: a module that listens once it has set up (a NestJS main.ts's bootstrap()).
        log.debug(`${spec.module} ${has} and has not called listen() yet: waiting up to ${seconds(waitMs)} (--listen-timeout) for it to call listen()`);
        const server = await failOnUnhandledRejection(capture.waitForServer(waitMs), spec);
        if (server === null) {
          throw new AppLoadError(`${spec.module} ${names.length === 0 ? "exports nothing oryx can serve" : has} and did not call listen() within ${seconds(waitMs)} (--listen-timeout)`);
        }
        log.debug(`${spec.module} called listen() after it loaded: serving that server`);
      }
      return capturedServer();
    }

    const { value } = await settle(mod[spec.exportName], spec, waitMs);
    if (choice !== "node") {
      const fetch = findFetchHandler(value, choice === "fetch", log, spec);
      if (fetch !== null) {
        if (capture.server !== null) log.debug(`${spec.module} also called listen(); oryx serves its export, and that server is not bound`);
        return { spec, interface: "fetch", fetch, websocket: websocketOf(value) };
      }
      if (choice === "fetch") throw new AppLoadError(`export "${spec.exportName}" of ${spec.module} is ${shape(value)}, not a fetch app (--interface fetch)`);
    }
    // A server the module started itself carries everything the app set up on it (its upgrade listeners too).
    if (capture.server !== null) return capturedServer();
    const node = await findNodeApp(value, choice === "node", log, spec);
    if (node !== null) return { spec, interface: "node", server: node.server, shape: node.shape, listening: false };
    throw new AppLoadError(
      `export "${spec.exportName}" of ${spec.module} is ${shape(value)}; oryx looked for: a fetch app (an object with a ` +
        `fetch(request) method, like Hono's app), a fetch handler (a function of (request) or (request, info)), a Node ` +
        `listener (a function of (req, res[, next]), like an Express app), a Koa app (callback()), a Fastify instance, ` +
        `an http.Server, or a module that calls listen() itself`,
    );
  } finally {
    capture.release();
  }
}

/**
 * The export as it will be served. An app shape is taken as it is, even if it has a `then` (itty-router's
 * AutoRouter answers every property with a function; Fastify instances are thenable). A real promise (top-level
 * await, an async factory) is awaited; any other thenable too, but neither for longer than --listen-timeout.
 * The value comes back in a box: an async function that returned it bare would await its `then` itself.
 */
async function settle(value: unknown, spec: AppSpec, waitMs: number): Promise<{ value: unknown }> {
  if (hasAppShape(value) || !isThenable(value)) return { value };
  const what = `export "${spec.exportName}" of ${spec.module}`;
  const promise = types.isPromise(value);
  let timer: NodeJS.Timeout | undefined;
  const late = Symbol("late");
  try {
    const settled = await Promise.race([
      Promise.resolve(value),
      new Promise<typeof late>((resolve) => (timer = setTimeout(() => resolve(late), waitMs))),
    ]);
    if (settled !== late) return { value: settled };
  } catch (err) {
    throw new AppLoadError(`${what} is a promise that rejected: ${errorSummary(err)}`, err);
  } finally {
    clearTimeout(timer);
  }
  throw new AppLoadError(
    promise
      ? `${what} is a promise that did not settle within ${seconds(waitMs)} (--listen-timeout); a promise of an object with its own then() (itty-router's AutoRouter) never settles: export the object itself`
      : `${what} is an object with a then() method but no app's shape, and awaiting it did not settle within ${seconds(waitMs)} (--listen-timeout)`,
  );
}

/** Whether `value` is something oryx serves as it is (so a `then` on it is not a reason to await it). */
function hasAppShape(value: unknown): boolean {
  if (typeof value === "function") return true;
  if (value === null || typeof value !== "object") return false;
  const v = value as { fetch?: unknown; callback?: unknown };
  return typeof v.fetch === "function" || isHttpServer(value) || isFastify(value) || typeof v.callback === "function";
}

function isFastify(value: unknown): value is { ready: () => Promise<unknown>; server: http.Server } {
  const v = value as { routing?: unknown; ready?: unknown; server?: unknown };
  return typeof v.routing === "function" && typeof v.ready === "function" && isHttpServer(v.server);
}

/**
 * Waits for `p`, but an unhandled rejection meanwhile (a `bootstrap()` that failed before its listen()) ends the
 * wait with that error: plain Node would have stopped there too. Meanwhile the rejection is this wait's to
 * report, so the process's other listeners (the worker's "unhandled promise rejection" log) stand aside.
 */
async function failOnUnhandledRejection<T>(p: Promise<T>, spec: AppSpec): Promise<T> {
  const others = process.listeners("unhandledRejection");
  let onRejection: ((reason: unknown) => void) | undefined;
  const rejected = new Promise<never>((_, reject) => {
    onRejection = (reason) => reject(new AppLoadError(`${spec.module} failed before it called listen(): ${errorSummary(reason)}`, reason));
  });
  process.removeAllListeners("unhandledRejection");
  process.on("unhandledRejection", onRejection!);
  try {
    return await Promise.race([p, rejected]);
  } finally {
    process.off("unhandledRejection", onRejection!);
    for (const l of others) process.on("unhandledRejection", l);
  }
}

/** Bun's shape: an object exporting `websocket` handlers beside `fetch`. */
function websocketOf(value: unknown): WebSocketHandler<unknown> | null {
  if (value === null || typeof value !== "object") return null;
  const ws = (value as { websocket?: unknown }).websocket;
  return ws !== null && typeof ws === "object" ? (ws as WebSocketHandler<unknown>) : null;
}

function findFetchHandler(value: unknown, forced: boolean, log: Logger, spec: AppSpec): FetchHandler | null {
  if (value !== null && (typeof value === "object" || typeof value === "function")) {
    const app = value as { fetch?: unknown };
    if (typeof app.fetch === "function") {
      const method = app.fetch as (this: unknown, ...args: unknown[]) => Response | PromiseLike<Response>;
      log.debug(`export "${spec.exportName}" of ${spec.module}: an object with a fetch method: a fetch app`);
      // Called as a method, so an app that uses `this` (Hono's app.fetch does) keeps it.
      return (request, info) => method.call(app, request, info);
    }
  }
  if (typeof value !== "function" || isHttpServer(value)) return null;
  if (forced) return value as FetchHandler;
  const kind = classifyFunction(value);
  log.debug(`export "${spec.exportName}" of ${spec.module}: a function served as ${kind.kind === "fetch" ? "a fetch handler" : "a Node listener"}: ${kind.why}`);
  return kind.kind === "fetch" ? (value as FetchHandler) : null;
}

async function findNodeApp(value: unknown, forced: boolean, log: Logger, spec: AppSpec): Promise<{ server: http.Server; shape: string } | null> {
  if (isHttpServer(value)) return { server: value, shape: "an http.Server" };
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return null;
  // Fastify: its own server, once ready, routes through every hook and plugin as under fastify.listen().
  if (isFastify(value)) {
    await value.ready();
    return { server: value.server, shape: "a Fastify instance" };
  }
  const v = value as { callback?: unknown };
  // Koa: app.callback() is its (req, res) listener.
  if (typeof v.callback === "function" && typeof value === "object") {
    return { server: serverForListener((v.callback as () => NodeListener).call(value)), shape: "a Koa app" };
  }
  if (typeof value !== "function") return null;
  if (forced) return { server: serverForListener(value as NodeListener, { log }), shape: "a Node (req, res) listener" };
  const kind = classifyFunction(value);
  if (kind.kind !== "node") return null;
  // Taken for a listener only because nothing said otherwise: if it is a fetch handler after all, its requests
  // get a 500 and the log says what to do, instead of hanging (or throwing in the worker).
  const guess = kind.ambiguous ? { why: kind.why, log } : undefined;
  if (kind.ambiguous) log.debug(`export "${spec.exportName}" of ${spec.module}: ${kind.why}`);
  return { server: serverForListener(value as NodeListener, { log, guess }), shape: "a Node (req, res) listener" };
}

function shape(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "function") {
    return `a function of ${value.length} declared parameters`;
  }
  if (typeof value === "object") return `an object without a fetch method (keys: ${Object.keys(value).slice(0, 8).join(", ") || "none"})`;
  return `a ${typeof value}`;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as { then?: unknown }).then === "function";
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function errorSummary(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
