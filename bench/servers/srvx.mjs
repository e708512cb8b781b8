// @ts-check
// srvx's Node adapter with the shared fetch handler on srvx's FastResponse.
import { FastResponse, serve } from "srvx";
import { fetchHandler, PORT } from "./common.mjs";

serve({
  port: PORT,
  hostname: "127.0.0.1",
  silent: true,
  gracefulShutdown: false,
  fetch: fetchHandler(FastResponse),
});
