/**
 * An itty-router v5 app as itty.dev writes one: `AutoRouter()` (JSON by default, a 404 for what no route
 * matches, errors turned into JSON), routes with params and query, `error()`, `status()`, `html()`, a thrown
 * StatusError, a Response.redirect, and the router itself as the default export (Bun's and oryx's way; the
 * router is a Proxy whose every unknown property is a route method, `then` included). Usual server: srvx.
 */
import { AutoRouter, StatusError, error, html, status } from "itty-router";

const router = AutoRouter();

router
  .get("/", () => "Hello from itty-router!")
  .get("/hello/:name", ({ name }) => `Hello, ${name}!`)
  .get("/json", () => [1, 2, 3])
  .get("/query", ({ query }) => ({ query }))
  .get("/users/:id/posts/:post", (request) => ({ params: request.params, route: request.route }))
  .get("/async", async () => {
    await new Promise((r) => setTimeout(r, 5));
    return { async: true };
  })
  .get("/redirect", (request) => Response.redirect(new URL("/json", request.url), 302))
  .get("/redirect-301", () => Response.redirect("https://example.com/moved", 301))
  .get("/response", () => new Response("a Response of its own", { status: 202, headers: { "x-itty": "own" } }))
  .get("/html", () => html("<p>itty</p>"))
  .get("/teapot", () => error(418, "short and stout"))
  .get("/created", () => status(201))
  .get("/bad", () => {
    throw new StatusError(400, "a StatusError");
  })
  .get("/throw", () => {
    throw new Error("boom");
  })
  .post("/echo", async (request) => ({ got: await request.json(), type: request.headers.get("content-type") }));

export default router;
