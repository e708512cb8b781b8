// @ts-check
// The Express 5 app of the Express scenario (express's defaults: ETag, X-Powered-By), served by node:http
// (express.mjs) and, once oryx serves Node (req, res) apps, by oryx.
import express from "express";
import { BODY_64K, cpuWork, HELLO } from "./common.mjs";

const body64k = Buffer.from(BODY_64K.buffer, BODY_64K.byteOffset, BODY_64K.byteLength);

const app = express();

app.get("/", (_req, res) => {
  res.type("text/plain").send(HELLO);
});
app.post("/echo", express.raw({ type: () => true, limit: "16mb" }), (req, res) => {
  res.type("application/octet-stream").send(req.body);
});
app.get("/64k", (_req, res) => {
  res.type("application/octet-stream").send(body64k);
});
app.get("/cpu", (_req, res) => {
  res.type("text/plain").send(`cpu ${cpuWork()}`);
});
app.get("/json/:id", (req, res) => {
  res.json({ id: req.params.id, ok: true });
});

export default app;
