// A real Fastify 5 app, unchanged: routes, a JSON body endpoint, a streaming endpoint, an error route, a hook.
import { Readable } from "node:stream";
import Fastify from "fastify";

const app = Fastify();

app.addHook("onRequest", async (_req, reply) => {
  reply.header("x-hook", "onRequest");
});
app.get("/", async () => "Hello from Fastify!");
app.get<{ Params: { id: string } }>("/users/:id", async (req) => ({ id: req.params.id, ip: req.socket.remoteAddress }));
app.post("/echo", async (req, reply) => {
  reply.code(201);
  return { received: req.body };
});
app.get("/stream", async (_req, reply) => {
  reply.type("text/plain; charset=utf-8");
  return reply.send(Readable.from(["tick 1\n", "tick 2\n", "tick 3\n"]));
});
app.get("/error", async () => {
  throw new Error("boom");
});

export default app;
