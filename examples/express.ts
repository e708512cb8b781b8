// A real Express 5 app, unchanged: routing, a JSON body endpoint, a streaming endpoint and an error route.
import express from "express";

const app = express();
app.use(express.json());

app.get("/", (_req, res) => {
  res.send("Hello from Express!");
});
app.get("/users/:id", (req, res) => {
  res.json({ id: req.params.id, ip: req.socket.remoteAddress });
});
app.post("/echo", (req, res) => {
  res.status(201).json({ received: req.body as unknown });
});
app.get("/stream", async (_req, res) => {
  res.setHeader("content-type", "text/plain; charset=utf-8");
  for (let i = 1; i <= 3; i++) {
    res.write(`tick ${i}\n`);
    await new Promise((r) => setTimeout(r, 10));
  }
  res.end();
});
app.get("/error", () => {
  throw new Error("boom");
});
app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
  res.status(500).json({ error: err.message });
});

export default app;
