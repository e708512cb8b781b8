/**
 * Serves an app file on its usual server, for the compatibility suite to compare oryx with:
 *
 *   node --import tsx test/compat/apps/run-usual.ts APP KIND
 *
 * KIND is `srvx` (srvx's serve({ fetch })), `hono-node` (@hono/node-server's serve({ fetch })) or `node`
 * (node:http: the exported http.Server itself, or http.createServer(listener)). It listens on 127.0.0.1, port 0,
 * and prints `PORT <n>` on standard output once it is listening.
 */
import http from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [file, kind] = process.argv.slice(2);
if (file === undefined || kind === undefined) {
  console.error("usage: run-usual.ts APP srvx|hono-node|node");
  process.exit(2);
}

const mod = (await import(pathToFileURL(path.resolve(file)).href)) as { default: unknown };
// Not awaited: an itty-router AutoRouter is a thenable Proxy, and none of the apps here exports a promise.
type Handler = (request: Request, ...rest: unknown[]) => Response | Promise<Response>;
const app = mod.default as { fetch?: Handler } & Handler;
// Every argument the server passes goes through (@hono/node-server's second one is { incoming, outgoing }).
const fetchOf: Handler = (request, ...rest) => (typeof app.fetch === "function" ? app.fetch(request, ...rest) : app(request, ...rest));

function announce(port: number): void {
  process.stdout.write(`PORT ${port}\n`);
}

switch (kind) {
  case "srvx": {
    const { serve } = await import("srvx");
    const server = serve({ fetch: fetchOf, port: 0, hostname: "127.0.0.1" });
    await server.ready();
    announce(Number(new URL(server.url!).port));
    break;
  }
  case "hono-node": {
    const { serve } = await import("@hono/node-server");
    serve({ fetch: fetchOf, port: 0, hostname: "127.0.0.1" }, (info) => announce(info.port));
    break;
  }
  case "node": {
    const server = app instanceof http.Server ? app : http.createServer(app as unknown as http.RequestListener);
    server.listen(0, "127.0.0.1", () => announce((server.address() as { port: number }).port));
    break;
  }
  default:
    console.error(`unknown server kind ${kind}`);
    process.exit(2);
}
