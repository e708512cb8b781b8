// @ts-check
// fastify 5, no logger; POST bodies parsed as raw bytes.
import Fastify from "fastify";
import { BODY_64K, cpuWork, HELLO, PORT } from "./common.mjs";

const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 });
const body64k = Buffer.from(BODY_64K.buffer, BODY_64K.byteOffset, BODY_64K.byteLength);

app.addContentTypeParser("application/octet-stream", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

app.get("/", (_req, reply) => {
  reply.type("text/plain; charset=utf-8").send(HELLO);
});
app.post("/echo", (req, reply) => {
  reply.type("application/octet-stream").send(req.body);
});
app.get("/64k", (_req, reply) => {
  reply.type("application/octet-stream").send(body64k);
});
app.get("/cpu", (_req, reply) => {
  reply.type("text/plain; charset=utf-8").send(`cpu ${cpuWork()}`);
});
app.get("/json/:id", (req, reply) => {
  reply.send({ id: /** @type {{ id: string }} */ (req.params).id, ok: true });
});

await app.listen({ port: PORT, host: "127.0.0.1" });
