import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { FetchHandler } from "./fetch.ts";

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

export interface LoadedApp {
  spec: AppSpec;
  /** The interface oryx detected: only fetch handlers for now. */
  interface: "fetch";
  fetch: FetchHandler;
}

export const APP_EXTENSIONS = [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"] as const;
const TS_EXTENSIONS = new Set([".ts", ".mts", ".cts"]);

/** Splits `MODULE[:EXPORT]`; the part after the last colon is an export only if it is an identifier. */
export function parseAppSpec(text: string): AppSpec {
  const m = /^(.*):([A-Za-z_$][\w$]*)$/.exec(text);
  if (m !== null && m[1] !== "") return { module: m[1]!, exportName: m[2]! };
  return { module: text, exportName: "default" };
}

let typeScriptReady: Promise<void> | null = null;

/** Lets `import()` load TypeScript (ESM and CommonJS) through tsx, once per process. */
function enableTypeScript(): Promise<void> {
  typeScriptReady ??= (async () => {
    const esm = await import("tsx/esm/api");
    esm.register();
    const cjs = await import("tsx/cjs/api");
    cjs.register();
  })();
  return typeScriptReady;
}

/** Loads the app module relative to `cwd` and finds a fetch handler in the named export. */
export async function loadApp(spec: AppSpec, cwd: string = process.cwd()): Promise<LoadedApp> {
  const file = path.resolve(cwd, spec.module);
  const ext = path.extname(file);
  if (!existsSync(file)) throw new AppLoadError(`cannot find the app module ${spec.module} (looked for ${file})`);
  if (!statSync(file).isFile()) throw new AppLoadError(`the app module ${spec.module} is not a file`);
  if (!(APP_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new AppLoadError(`the app module ${spec.module} has extension "${ext}"; oryx loads ${APP_EXTENSIONS.join(" ")}`);
  }
  if (TS_EXTENSIONS.has(ext)) await enableTypeScript();

  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new AppLoadError(`the app module ${spec.module} threw while loading: ${errorSummary(err)}`, err);
  }
  if (!(spec.exportName in mod)) {
    const names = Object.keys(mod);
    const has = names.length === 0 ? "it exports nothing" : `its exports are: ${names.join(", ")}`;
    throw new AppLoadError(`the app module ${spec.module} has no export named "${spec.exportName}" (${has})`);
  }
  let value = mod[spec.exportName];
  if (isThenable(value)) {
    try {
      value = await value;
    } catch (err) {
      throw new AppLoadError(`export "${spec.exportName}" of ${spec.module} is a promise that rejected: ${errorSummary(err)}`, err);
    }
  }
  const fetch = findFetchHandler(value);
  if (fetch === null) {
    throw new AppLoadError(
      `export "${spec.exportName}" of ${spec.module} is ${shape(value)}; oryx looked for a fetch app ` +
        `(an object with a fetch(request) method, like Hono's app) or a fetch handler (a function of at most one ` +
        `parameter returning a Response)`,
    );
  }
  return { spec, interface: "fetch", fetch };
}

function findFetchHandler(value: unknown): FetchHandler | null {
  if (value !== null && (typeof value === "object" || typeof value === "function")) {
    const app = value as { fetch?: unknown };
    if (typeof app.fetch === "function") {
      const method = app.fetch as (this: unknown, ...args: unknown[]) => Response | PromiseLike<Response>;
      // Called as a method, so an app that uses `this` (Hono's app.fetch does) keeps it.
      return (request, info) => method.call(app, request, info);
    }
  }
  if (typeof value === "function" && value.length <= 1) return value as FetchHandler;
  return null;
}

function shape(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "function") {
    return `a function of ${value.length} declared parameters (a Node (req, res) listener is not served yet)`;
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
