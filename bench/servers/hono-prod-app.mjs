// @ts-check
// The production-shaped Hono app: middleware a production app has (a response-time header set after the
// handler, CORS, secure headers) and JSON routes with params. Served unchanged by oryx
// (node dist/cli.js bench/servers/hono-prod-app.mjs), by @hono/node-server (hono-prod-node.mjs) and by
// Bun.serve (bun-runner.ts). The suite loads GET /users/7.
import { Hono } from "hono";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";

const app = new Hono();

app.use(async (c, next) => {
  const start = performance.now();
  await next();
  c.header("x-response-time", `${(performance.now() - start).toFixed(3)}ms`);
});
app.use(cors());
app.use(secureHeaders());

app.get("/", (c) => c.text("Hello, World!"));
app.get("/health", (c) => c.json({ ok: true }));
app.get("/users/:id", (c) => c.json({ id: c.req.param("id"), name: "Ada Lovelace" }));
app.get("/users/:id/posts/:post", (c) => c.json({ user: c.req.param("id"), post: c.req.param("post") }));
app.post("/users", async (c) => {
  const body = /** @type {{ name?: unknown }} */ (await c.req.json());
  return c.json({ id: "8", name: typeof body.name === "string" ? body.name : "anonymous" }, 201);
});
app.notFound((c) => c.json({ error: "not found" }, 404));
app.onError((err, c) => c.json({ error: err.message }, 500));

export default app;
