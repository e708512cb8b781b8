// @ts-check
// The production-shaped Hono app on @hono/node-server, at its defaults.
import { serve } from "@hono/node-server";
import app from "./hono-prod-app.mjs";
import { PORT } from "./common.mjs";

serve({ fetch: app.fetch, port: PORT, hostname: "127.0.0.1" });
