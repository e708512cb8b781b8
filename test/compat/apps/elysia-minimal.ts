/**
 * Elysia's own quick start, no hooks: each route's answer, and the 404 for a path no route matches, come back
 * from `app.fetch` synchronously (a Response, not a promise of one).
 */
import { Elysia } from "elysia";

export default new Elysia()
  .get("/", () => "Hello Elysia")
  .get("/user/:id", ({ params: { id } }) => id)
  .get("/json", () => ({ hello: "Elysia" }))
  .post("/form", ({ body }) => body);
