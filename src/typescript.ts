/** Source files oryx loads through tsx rather than Node's own loader. */
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
