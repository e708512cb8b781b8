/**
 * A Hono app as hono.dev writes one: built-in middleware (cors(), secureHeaders()), a timing middleware that
 * sets a header after `await next()`, JSON routes with params and a validated body, streamSSE, two cookies with
 * setCookie, c.redirect(), an error handler and a notFound handler, and both Node's and Bun's `getConnInfo`.
 * Usual server: @hono/node-server.
 */
import { Hono } from "hono";
import { setCookie } from "hono/cookie";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { streamSSE } from "hono/streaming";
import { getConnInfo as nodeConnInfo } from "@hono/node-server/conninfo";

const app = new Hono();

app.use("*", cors({ origin: "https://example.com", exposeHeaders: ["x-response-time"] }));
app.use("*", secureHeaders());
// The docs' classic: measure the handler, then set a header on the response it made.
app.use("*", async (c, next) => {
  const start = performance.now();
  await next();
  c.header("x-response-time", `${(performance.now() - start).toFixed(3)}ms`);
});

app.get("/", (c) => c.text("Hello Hono!"));

app.get("/users/:id", (c) => c.json({ id: c.req.param("id"), q: c.req.query("q") ?? null }));

app.get("/posts/:postId/comments/:commentId", (c) => c.json(c.req.param()));

app.post("/users", async (c) => {
  const body = await c.req.json<{ name?: unknown }>();
  if (typeof body.name !== "string") throw new HTTPException(400, { message: "name is required" });
  return c.json({ created: body.name }, 201, { "x-created": "1" });
});

app.get("/sse", (c) =>
  streamSSE(c, async (stream) => {
    for (let id = 1; id <= 3; id++) {
      await stream.writeSSE({ event: "tick", id: String(id), data: JSON.stringify({ n: id }) });
      await stream.sleep(5);
    }
  }),
);

app.get("/cookies", (c) => {
  setCookie(c, "session", "abc", { path: "/", httpOnly: true, sameSite: "Lax" });
  setCookie(c, "theme", "dark", { path: "/", maxAge: 3600 });
  return c.text("two cookies");
});

app.get("/redirect", (c) => c.redirect("/users/1"));
app.get("/redirect-301", (c) => c.redirect("https://example.com/moved", 301));

app.get("/conninfo/node", (c) => {
  const info = nodeConnInfo(c);
  return c.json({ address: info.remote.address, port: info.remote.port, addressType: info.remote.addressType });
});

// Bun's helper. `hono/bun` as a whole reads the global `Bun` while it loads (its SSG helper does
// `const { write } = Bun`): oryx lets it load (src/ws/bun-stub.ts); @hono/node-server does not, so it is imported
// here, in the route, not at the top: there only this route fails, not the whole app.
app.get("/conninfo/bun", async (c) => {
  const { getConnInfo } = await import("hono/bun");
  const info = getConnInfo(c);
  return c.json({ address: info.remote.address, port: info.remote.port, addressType: info.remote.addressType });
});

// The same helper by its own file (it needs no `Bun` global): what it asks of the server is
// `server.requestIP(request)` on the fetch handler's second argument (or on its `server` property).
app.get("/conninfo/bun-helper", async (c) => {
  const file = new URL("./adapter/bun/conninfo.js", import.meta.resolve("hono"));
  const { getConnInfo } = (await import(file.href)) as { getConnInfo: typeof import("hono/bun").getConnInfo };
  const info = getConnInfo(c);
  return c.json({ address: info.remote.address, port: info.remote.port, addressType: info.remote.addressType });
});

app.get("/forbidden", () => {
  throw new HTTPException(403, { message: "not for you" });
});

app.get("/error", () => {
  throw new Error("boom");
});

app.onError((err, c) => {
  if (err instanceof HTTPException) return c.json({ error: err.message }, err.status);
  return c.json({ error: err.message }, 500);
});

app.notFound((c) => c.json({ error: "not found", path: c.req.path }, 404));

export default app;
