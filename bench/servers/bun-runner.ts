// Bun.serve running an app module's default export, as a Bun user serves it:
//   PORT=8080 node_modules/.bin/bun bench/servers/bun-runner.ts bench/servers/user-app.ts
// Bun.serve at its defaults (idle timeout, development flag, …); only the port and the address are given.
import path from "node:path";
import { pathToFileURL } from "node:url";

interface FetchApp {
  fetch(request: Request, ...rest: unknown[]): Response | Promise<Response>;
  /** Bun's WebSocket handlers beside fetch (servers/ws-app.ts), passed on when the app has them. */
  websocket?: unknown;
}

// Bun's global, declared here so the suite's type-check needs no Bun types.
declare const Bun: {
  serve(options: { port: number; hostname: string; fetch: FetchApp["fetch"]; websocket?: unknown }): { port: number };
};

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write("usage: bun bench/servers/bun-runner.ts APP\n");
  process.exit(2);
}
const app = ((await import(pathToFileURL(path.resolve(file)).href)) as { default: FetchApp }).default;

Bun.serve({ port: Number(process.env.PORT ?? 8080), hostname: "127.0.0.1", fetch: app.fetch, ...(app.websocket !== undefined ? { websocket: app.websocket } : {}) });
