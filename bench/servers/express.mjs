// @ts-check
// The Express app on node:http.
import { createServer } from "node:http";
import app from "./express-app.mjs";
import { KEEP_ALIVE_MS, PORT } from "./common.mjs";

const server = createServer({ keepAliveTimeout: KEEP_ALIVE_MS }, app);
server.keepAliveTimeout = KEEP_ALIVE_MS;
server.listen(PORT, "127.0.0.1");
