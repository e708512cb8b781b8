/**
 * An h3 v2 app as h3.dev's guide writes one: `new H3()`, handlers that return objects (JSON) or strings,
 * `redirect()`, a thrown `HTTPError`, bodies read with `readBody(event)` and `await event.req.json()`, and a
 * middleware that sets a response header. Its usual server is srvx (what h3's own `serve(app)` uses on Node).
 */
import { H3, HTTPError, getRouterParam, html, noContent, readBody, redirect, setCookie } from "h3";

const app: H3 = new H3();

// Middleware: runs before every handler, and sets a header on every response.
app.use((event) => {
  event.res.headers.set("x-powered-by", "h3-compat");
});

// A middleware that runs after the handler (it awaits next()) and marks the response.
app.use(async (event, next) => {
  const started = event.url.pathname;
  const res = await next();
  event.res.headers.set("x-handled-path", started);
  return res;
});

app.get("/", () => "Hello from h3!");

app.get("/json", (event) => ({ hello: "world", path: event.url.pathname, query: Object.fromEntries(event.url.searchParams) }));

app.get("/users/:id", (event) => {
  const id = getRouterParam(event, "id");
  return { id, agent: event.req.headers.get("user-agent") ? "present" : "absent" };
});

app.get("/html", () => html`<h1>${"h3"}</h1>`);

app.get("/redirect", () => redirect("/json?from=redirect"));

app.get("/redirect-301", () => redirect("/json", 301));

app.get("/teapot", () => {
  throw new HTTPError({ status: 418, statusText: "I'm a teapot", message: "short and stout", data: { kind: "teapot" } });
});

app.get("/forbidden", () => {
  throw HTTPError.status(403, "Forbidden", { message: "not for you" });
});

app.get("/crash", () => {
  throw new Error("an unexpected failure");
});

app.post("/read-body", async (event) => {
  const body = await readBody<{ name: string }>(event);
  event.res.status = 201;
  return { created: body };
});

app.post("/req-json", async (event) => {
  const body = (await event.req.json()) as Record<string, unknown>;
  return { received: body, method: event.req.method };
});

app.get("/cookies", (event) => {
  setCookie(event, "session", "abc", { path: "/", httpOnly: true });
  setCookie(event, "theme", "dark", { path: "/" });
  return { ok: true };
});

app.get("/status", (event) => {
  event.res.status = 202;
  event.res.headers.set("x-custom", "accepted");
  return "accepted";
});

app.delete("/items/:id", () => noContent());

app.get("/response", () => new Response("a Response from a handler", { headers: { "x-from": "handler" } }));

app.get("/bytes", () => new Uint8Array([104, 51, 0, 255]));

app.get("/blob", () => new Blob(["<svg/>"], { type: "image/svg+xml" }));

app.get("/stream", () => {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream({
    async pull(controller) {
      if (i === 3) return controller.close();
      await new Promise((r) => setTimeout(r, 5));
      controller.enqueue(encoder.encode(`part ${++i}\n`));
    },
  });
});

export default app;
