// A real Hono app, unchanged: routing, params, JSON in and out, a streaming route, and an error handler.
import { Hono } from "hono";
import { streamText } from "hono/streaming";

const app = new Hono();

app.get("/", (c) => c.text("Hello from Hono!"));
app.get("/users/:id", (c) => c.json({ id: c.req.param("id"), agent: c.req.header("user-agent") ?? null }));
app.post("/echo", async (c) => c.json({ received: await c.req.json() }, 201));
app.get("/stream", (c) =>
  streamText(c, async (stream) => {
    for (let i = 1; i <= 3; i++) {
      await stream.writeln(`tick ${i}`);
      await stream.sleep(10);
    }
  }),
);
app.get("/error", () => {
  throw new Error("boom");
});
app.onError((err, c) => c.json({ error: err.message }, 500));
app.notFound((c) => c.json({ error: "not found" }, 404));

export default app;
