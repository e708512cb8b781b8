import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire, register as registerHooks } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

/** Source files oryx compiles itself (through tsx, or SWC) rather than leave to Node's own loader. */
export const TS_EXTENSIONS: ReadonlySet<string> = new Set([".ts", ".mts", ".cts"]);

let typeScriptReady: Promise<void> | null = null;

/**
 * Lets `import()` load TypeScript (ESM and CommonJS) through tsx's API, once per process: apps and config files
 * run with no build step.
 */
export function enableTypeScript(): Promise<void> {
  typeScriptReady ??= (async () => {
    const esm = await import("tsx/esm/api");
    esm.register();
    const cjs = await import("tsx/cjs/api");
    cjs.register();
  })();
  return typeScriptReady;
}

// ─── which compiler, as the app's own tsconfig.json asks ───────────────────────────────────────────────────

/**
 * How an app's TypeScript is compiled. tsx (esbuild) by default. SWC when the tsconfig.json that applies to the
 * app sets `emitDecoratorMetadata` (NestJS, TypeORM, class-validator, Angular-style DI): esbuild emits no
 * decorator metadata, so constructor injection would find `undefined` where `tsc` would have named the class.
 */
export interface TypeScriptLoader {
  compiler: "tsx" | "swc";
  /** The tsconfig.json that applies to the app: the first one up from the app's directory. */
  tsconfig: string | null;
  /** How the module itself is loaded: an ES module (`import()`) or CommonJS (`require()`, SWC only). */
  format: "module" | "commonjs";
  /** Why this compiler, for the debug log. */
  reason: string;
}

/** The first tsconfig.json in `dir` or a directory above it. */
export function findTsconfig(dir: string): string | null {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const candidate = path.join(d, "tsconfig.json");
    if (isFile(candidate)) return candidate;
    if (path.dirname(d) === d) return null;
  }
}

/**
 * A tsconfig.json's compilerOptions, with those of the files it `extends` (a relative path, or a package's file
 * as Node resolves it) under it, as TypeScript merges them. JSON with comments and trailing commas, like tsc
 * reads it. Throws if a file cannot be read or parsed.
 */
export function readCompilerOptions(file: string, seen: Set<string> = new Set()): Record<string, unknown> {
  if (seen.has(file) || seen.size > 16) return {};
  seen.add(file);
  const config = parseJsonc(readFileSync(file, "utf8")) as { extends?: unknown; compilerOptions?: unknown } | null;
  if (config === null || typeof config !== "object") return {};
  const bases = typeof config.extends === "string" ? [config.extends] : Array.isArray(config.extends) ? config.extends : [];
  let options: Record<string, unknown> = {};
  for (const base of bases) {
    if (typeof base !== "string") continue;
    const baseFile = resolveExtends(base, path.dirname(file));
    // A base that cannot be found is tsc's error to report; what this file says still counts.
    if (baseFile !== null) options = { ...options, ...readCompilerOptions(baseFile, seen) };
  }
  const own = config.compilerOptions;
  return own !== null && typeof own === "object" ? { ...options, ...(own as Record<string, unknown>) } : options;
}

function resolveExtends(spec: string, dir: string): string | null {
  if (spec.startsWith(".") || path.isAbsolute(spec)) {
    const file = path.resolve(dir, spec);
    for (const f of [file, `${file}.json`, path.join(file, "tsconfig.json")]) if (isFile(f)) return f;
    return null;
  }
  const require = createRequire(path.join(dir, "tsconfig.json"));
  for (const s of [spec, `${spec}.json`, `${spec}/tsconfig.json`]) {
    try {
      return require.resolve(s);
    } catch {
      // next form
    }
  }
  return null;
}

/** JSON with `//` and `/* *\/` comments and trailing commas (tsconfig.json's dialect). */
export function parseJsonc(text: string): unknown {
  let out = "";
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < n && text[i] !== "\n") i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? n : end + 2;
      out += " ";
    } else {
      out += c;
      i++;
    }
  }
  // Trailing commas: a comma followed (after whitespace) by } or ]. Strings are intact, so match outside them.
  out = out.replace(/("(?:[^"\\]|\\.)*")|,(\s*[}\]])/g, (m, str: string | undefined, close: string | undefined) => str ?? close ?? m);
  return JSON.parse(out.replace(/^\uFEFF/, ""));
}

/** The `type` of the package.json nearest `file` ("commonjs" when there is none or it says nothing). */
function packageType(file: string): "module" | "commonjs" {
  for (let d = path.dirname(file); ; d = path.dirname(d)) {
    const pkg = path.join(d, "package.json");
    if (isFile(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, "utf8")) as { type?: unknown }).type === "module" ? "module" : "commonjs";
      } catch {
        return "commonjs";
      }
    }
    if (path.dirname(d) === d) return "commonjs";
  }
}

/** Node's rule for a TypeScript file's module format: .mts ESM, .cts CommonJS, .ts as its package.json says. */
function moduleFormat(file: string): "module" | "commonjs" {
  const ext = path.extname(file);
  if (ext === ".mts") return "module";
  if (ext === ".cts") return "commonjs";
  return packageType(file);
}

/** Picks the compiler for the TypeScript app `file` from the tsconfig.json that applies to it. */
export function chooseTypeScriptLoader(file: string): TypeScriptLoader {
  const format = moduleFormat(file);
  const tsconfig = findTsconfig(path.dirname(file));
  if (tsconfig === null) return { compiler: "tsx", tsconfig, format, reason: `no tsconfig.json in ${path.dirname(file)} or above` };
  let options: Record<string, unknown>;
  try {
    options = readCompilerOptions(tsconfig);
  } catch (err) {
    return { compiler: "tsx", tsconfig, format, reason: `${tsconfig} could not be read (${(err as Error).message})` };
  }
  if (options.emitDecoratorMetadata === true) {
    return { compiler: "swc", tsconfig, format, reason: `${tsconfig} sets emitDecoratorMetadata, which tsx (esbuild) does not emit` };
  }
  return { compiler: "tsx", tsconfig, format, reason: `${tsconfig} does not set emitDecoratorMetadata` };
}

let swcReady: { tsconfig: string; esm: boolean } | null = null;

/**
 * Registers @swc-node/register for the project of `tsconfig` (once per process): its CommonJS hook (what `nest
 * new`'s CommonJS projects need, `require()` of each .ts) and, for an ES-module app, its ESM loader hooks. SWC
 * compiles as tsc would with that tsconfig: decorators with their design-type metadata. Throws if SWC or the
 * TypeScript package it reads tsconfig.json with cannot be loaded.
 */
export function enableSwc(tsconfig: string, esm: boolean): void {
  if (swcReady !== null && swcReady.tsconfig === tsconfig && (swcReady.esm || !esm)) return;
  const require = createRequire(import.meta.url);
  // Read by @swc-node/register's ESM loader (in its own thread, from the environment) and by its defaults.
  process.env.SWC_NODE_PROJECT = tsconfig;
  if (swcReady === null) {
    const { readDefaultTsConfig } = require("@swc-node/register/read-default-tsconfig") as { readDefaultTsConfig: (file: string) => Record<string, unknown> };
    const { register } = require("@swc-node/register/register") as { register: (options: Record<string, unknown>) => unknown };
    register(readDefaultTsConfig(tsconfig));
  }
  if (esm) registerHooks("@swc-node/register/esm", import.meta.url);
  swcReady = { tsconfig, esm: esm || (swcReady?.esm ?? false) };
}

/**
 * Makes TypeScript loadable as `loader` says and returns how to load `file`: `import()` (tsx, or SWC for an ES
 * module) or `require()` (a CommonJS module under SWC: Node's `import()` of a .ts file has no hook then). The
 * result has the shape of an `import()` namespace either way (`module.exports` is its default).
 */
export async function prepareTypeScript(file: string, loader: TypeScriptLoader): Promise<() => Promise<Record<string, unknown>>> {
  const url = pathToFileURL(file).href;
  if (loader.compiler === "tsx" || loader.tsconfig === null) {
    await enableTypeScript();
    return async () => (await import(url)) as Record<string, unknown>;
  }
  enableSwc(loader.tsconfig, loader.format === "module");
  if (loader.format === "module") return async () => (await import(url)) as Record<string, unknown>;
  const require = createRequire(file);
  return async () => {
    const exports = require(file) as unknown;
    return { default: exports };
  };
}

function isFile(p: string): boolean {
  try {
    return existsSync(p) && statSync(p).isFile();
  } catch {
    return false;
  }
}
