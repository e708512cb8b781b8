// The fetch-handler app oryx serves: the same handler as srvx's, on the global Response.
// node dist/cli.js bench/servers/oryx-app.ts -b 127.0.0.1:PORT -w 1
import { fetchHandler } from "./common.mjs";

export default { fetch: fetchHandler(Response) };
