// @ts-check
// The Hono app of the Hono scenario, served unchanged by @hono/node-server (hono-node.mjs) and by oryx.
// A few routes so the router has something to choose from; the suite loads GET /json/:id.
import { Hono } from "hono";
import { BODY_64K, cpuWork, HELLO } from "./common.mjs";

const OCTETS = { "content-type": "application/octet-stream" };

const app = new Hono();

app.get("/", (c) => c.text(HELLO));
app.post("/echo", async (c) => c.body(await c.req.arrayBuffer(), 200, OCTETS));
app.get("/64k", (c) => c.body(BODY_64K, 200, OCTETS));
app.get("/cpu", (c) => c.text(`cpu ${cpuWork()}`));
app.get("/json/:id", (c) => c.json({ id: c.req.param("id"), ok: true }));
app.get("/users/:id", (c) => c.json({ user: c.req.param("id") }));
app.get("/users/:id/posts/:post", (c) => c.json({ user: c.req.param("id"), post: c.req.param("post") }));
app.post("/json", async (c) => c.json({ received: await c.req.json() }, 201));
app.notFound((c) => c.json({ error: "not found" }, 404));
app.onError((err, c) => c.json({ error: err.message }, 500));

export default app;
