// @ts-check
// srvx's Node adapter with the shared fetch handler on srvx's FastResponse.
import { FastResponse, serve } from "srvx";
import { fetchHandler, KEEP_ALIVE_MS, PORT } from "./common.mjs";

serve({
  port: PORT,
  hostname: "127.0.0.1",
  silent: true,
  gracefulShutdown: false,
  node: { keepAliveTimeout: KEEP_ALIVE_MS },
  fetch: fetchHandler(FastResponse),
});
