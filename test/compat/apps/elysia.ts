/**
 * An Elysia app as elysiajs.com writes one for a Web Standard runtime: `const app = new Elysia()...`, its
 * `fetch` is what a server calls. Routes with params, a schema-validated JSON body (TypeBox through `t`), `set`
 * for status and headers, `redirect()`, `status()` errors, a thrown Error, cookies, a lifecycle hook that sets
 * a header, and a path no route matches. Usual server: srvx with app.fetch.
 */
import { Elysia, t } from "elysia";

const app = new Elysia()
  .onRequest(({ set }) => {
    set.headers["x-powered-by"] = "elysia-compat";
  })
  .onAfterHandle(({ set }) => {
    set.headers["x-after-handle"] = "yes";
  })
  .get("/", () => "Hello Elysia")
  .get("/json", () => ({ hello: "world", list: [1, 2, 3] }))
  .get("/id/:id", ({ params: { id } }) => ({ id }))
  .get("/query", ({ query }) => ({ query }))
  .post("/items", ({ body, set }) => {
    set.status = 201;
    return { created: body };
  }, { body: t.Object({ name: t.String(), count: t.Number() }) })
  .post("/form", ({ body }) => ({ form: body }))
  .get("/headers", ({ set }) => {
    set.headers["x-custom"] = "from set.headers";
    set.headers["content-type"] = "text/plain; charset=utf-8";
    return "custom headers";
  })
  .get("/redirect", ({ redirect, request }) => redirect(new URL("/json", request.url).href))
  .get("/redirect-301", ({ redirect }) => redirect("https://example.com/moved", 301))
  .get("/teapot", ({ status }) => status(418, "I'm a teapot"))
  .get("/throw", () => {
    throw new Error("boom");
  })
  .get("/cookies", ({ cookie: { session, theme } }) => {
    session.value = "abc";
    session.httpOnly = true;
    session.path = "/";
    theme.value = "dark";
    return "cookies set";
  })
  .get("/response", () => new Response("a Response of the handler's own", { status: 202, headers: { "x-own": "1" } }))
  .get("/stream", async function* () {
    yield "part 1\n";
    await new Promise((r) => setTimeout(r, 5));
    yield "part 2\n";
  });

// Typed by what a server calls: the inferred type names undici-types by its path in node_modules, which tsc
// refuses as not portable when node_modules is a symlink to another checkout (a git worktree's).
export default app as { fetch(request: Request): Response | Promise<Response> };
