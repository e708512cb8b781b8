// A real Koa 3 app, unchanged: routing by hand, a JSON body endpoint, a streaming endpoint and an error route.
import { Readable } from "node:stream";
import Koa from "koa";

const app = new Koa();

app.use(async (ctx, next) => {
  try {
    await next();
  } catch (err) {
    ctx.status = 500;
    ctx.body = { error: (err as Error).message };
  }
});

app.use(async (ctx) => {
  if (ctx.method === "GET" && ctx.path === "/") {
    ctx.body = "Hello from Koa!";
  } else if (ctx.method === "GET" && ctx.path.startsWith("/users/")) {
    ctx.body = { id: ctx.path.slice(7), ip: ctx.req.socket.remoteAddress };
  } else if (ctx.method === "POST" && ctx.path === "/echo") {
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
    ctx.status = 201;
    ctx.body = { received: JSON.parse(Buffer.concat(chunks).toString("utf8") || "null") as unknown };
  } else if (ctx.method === "GET" && ctx.path === "/stream") {
    ctx.type = "text/plain; charset=utf-8";
    ctx.body = Readable.from(["tick 1\n", "tick 2\n", "tick 3\n"]);
  } else if (ctx.path === "/error") {
    throw new Error("boom");
  } else {
    ctx.status = 404;
    ctx.body = { error: "not found" };
  }
});

export default app;
