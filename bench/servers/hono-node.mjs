// @ts-check
// The Hono app on @hono/node-server (its defaults: lightweight global Request/Response).
import { serve } from "@hono/node-server";
import app from "./hono-app.mjs";
import { PORT } from "./common.mjs";

serve({ fetch: app.fetch, port: PORT, hostname: "127.0.0.1" });
