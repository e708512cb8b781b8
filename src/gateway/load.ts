import { existsSync, statSync } from "node:fs";
import { TS_EXTENSIONS, enableTypeScript } from "../typescript.ts";
import type http from "node:http";
import type net from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { FetchHandler } from "./fetch.ts";
import { captureListen, isHttpServer, serverForListener, type NodeListener } from "./node.ts";

/** A problem with the app the user named: its file, its export, its shape, or an error it threw while loading. */
export class AppLoadError extends Error {
  readonly detail: unknown;
  constructor(message: string, detail?: unknown) {
    super(message);
    this.name = "AppLoadError";
    this.detail = detail;
  }
}

export interface AppSpec {
  /** The module path as the user wrote it. */
  module: string;
  /** The export to serve; "default" unless `MODULE:EXPORT` named one. */
  exportName: string;
}

/** Which interface to serve the export with: found from its shape, or forced by --interface. */
export type InterfaceChoice = "auto" | "fetch" | "node";

export type LoadedApp =
  | { spec: AppSpec; interface: "fetch"; fetch: FetchHandler }
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
}

export const APP_EXTENSIONS = [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"] as const;

/** Splits `MODULE[:EXPORT]`; the part after the last colon is an export only if it is an identifier. */
export function parseAppSpec(text: string): AppSpec {
  const m = /^(.*):([A-Za-z_$][\w$]*)$/.exec(text);
  if (m !== null && m[1] !== "") return { module: m[1]!, exportName: m[2]! };
  return { module: text, exportName: "default" };
}


/**
 * A TypeScript (or Babel) module compiled to CommonJS, as tsx does for a .ts file outside a `"type": "module"`
 * package, sets `exports.default` beside `__esModule`; `import()` then hands all of `module.exports` over as the
 * default. Its ES exports are what the author wrote, so those are what oryx looks in.
 */
function esModuleExports(mod: Record<string, unknown>): Record<string, unknown> {
  const cjs = mod.default as Record<string, unknown> | null | undefined;
  if (cjs !== null && typeof cjs === "object" && cjs.__esModule === true) return { ...mod, ...cjs };
  return mod;
}

/** Loads the app module relative to `cwd` and finds what to serve in the named export. */
export async function loadApp(spec: AppSpec, cwd: string = process.cwd(), opts: LoadOptions = {}): Promise<LoadedApp> {
  const choice = opts.interface ?? "auto";
  const file = path.resolve(cwd, spec.module);
  const ext = path.extname(file);
  if (!existsSync(file)) throw new AppLoadError(`cannot find the app module ${spec.module} (looked for ${file})`);
  if (!statSync(file).isFile()) throw new AppLoadError(`the app module ${spec.module} is not a file`);
  if (!(APP_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new AppLoadError(`the app module ${spec.module} has extension "${ext}"; oryx loads ${APP_EXTENSIONS.join(" ")}`);
  }
  if (TS_EXTENSIONS.has(ext)) await enableTypeScript();

  let mod: Record<string, unknown>;
  let captured: http.Server[];
  try {
    // A module may start its own server while loading (`app.listen(3000)`): capture it instead of binding.
    const r = await captureListen(async () => (await import(pathToFileURL(file).href)) as Record<string, unknown>, opts.address ?? null, opts.checkingIntervalMs ?? 1000);
    mod = r.value;
    captured = r.servers;
  } catch (err) {
    throw new AppLoadError(`the app module ${spec.module} threw while loading: ${errorSummary(err)}`, err);
  }
  mod = esModuleExports(mod);
  const hasExport = spec.exportName in mod && mod[spec.exportName] !== undefined;
  if (!hasExport && !(captured.length > 0 && spec.exportName === "default")) {
    const names = Object.keys(mod);
    const has = names.length === 0 ? "it exports nothing" : `its exports are: ${names.join(", ")}`;
    throw new AppLoadError(`the app module ${spec.module} has no export named "${spec.exportName}" (${has})`);
  }
  let value = hasExport ? mod[spec.exportName] : undefined;
  if (isThenable(value)) {
    try {
      value = await value;
    } catch (err) {
      throw new AppLoadError(`export "${spec.exportName}" of ${spec.module} is a promise that rejected: ${errorSummary(err)}`, err);
    }
  }

  if (choice !== "node") {
    const fetch = findFetchHandler(value, choice === "fetch");
    if (fetch !== null) return { spec, interface: "fetch", fetch };
    if (choice === "fetch") throw new AppLoadError(`export "${spec.exportName}" of ${spec.module} is ${shape(value)}, not a fetch app (--interface fetch)`);
  }
  // A server the module started itself carries everything the app set up on it (its upgrade listeners too).
  if (captured.length > 0) {
    return { spec, interface: "node", server: captured[0]!, shape: "a server started by the module (listen() was captured)", listening: true };
  }
  const node = await findNodeApp(value, choice === "node");
  if (node !== null) return { spec, interface: "node", server: node.server, shape: node.shape, listening: false };
  throw new AppLoadError(
    `export "${spec.exportName}" of ${spec.module} is ${shape(value)}; oryx looked for: a fetch app (an object with a ` +
      `fetch(request) method, like Hono's app), a fetch handler (a function of at most one parameter), a Node ` +
      `listener (a function of (req, res[, next]), like an Express app), a Koa app (callback()), a Fastify instance, ` +
      `an http.Server, or a module that calls listen() itself`,
  );
}

function findFetchHandler(value: unknown, forced: boolean): FetchHandler | null {
  if (value !== null && (typeof value === "object" || typeof value === "function")) {
    const app = value as { fetch?: unknown };
    if (typeof app.fetch === "function") {
      const method = app.fetch as (this: unknown, ...args: unknown[]) => Response | PromiseLike<Response>;
      // Called as a method, so an app that uses `this` (Hono's app.fetch does) keeps it.
      return (request, info) => method.call(app, request, info);
    }
  }
  if (typeof value === "function" && (value.length <= 1 || forced) && !isHttpServer(value)) return value as FetchHandler;
  return null;
}

async function findNodeApp(value: unknown, forced: boolean): Promise<{ server: http.Server; shape: string } | null> {
  if (isHttpServer(value)) return { server: value, shape: "an http.Server" };
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return null;
  const v = value as { routing?: unknown; ready?: unknown; server?: unknown; callback?: unknown };
  // Fastify: its own server, once ready, routes through every hook and plugin as under fastify.listen().
  if (typeof v.routing === "function" && typeof v.ready === "function" && isHttpServer(v.server)) {
    await (v.ready as () => Promise<unknown>).call(value);
    return { server: v.server, shape: "a Fastify instance" };
  }
  // Koa: app.callback() is its (req, res) listener.
  if (typeof v.callback === "function" && typeof value === "object") {
    return { server: serverForListener((v.callback as () => NodeListener).call(value)), shape: "a Koa app" };
  }
  if (typeof value === "function" && (value.length >= 2 || forced)) {
    return { server: serverForListener(value as NodeListener), shape: "a Node (req, res) listener" };
  }
  return null;
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

function errorSummary(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
