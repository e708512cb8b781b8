// @ts-check
// node:http as the baseline: writeHead + end, nothing else; node:http's defaults.
import { createServer } from "node:http";
import { BODY_64K, cpuWork, HELLO, PORT } from "./common.mjs";

const TEXT = "text/plain; charset=utf-8";
const OCTETS = "application/octet-stream";

const server = createServer((req, res) => {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  const path = q === -1 ? url : url.slice(0, q);
  if (req.method === "GET") {
    if (path === "/") {
      res.writeHead(200, { "content-type": TEXT, "content-length": HELLO.length });
      res.end(HELLO);
      return;
    }
    if (path === "/64k") {
      res.writeHead(200, { "content-type": OCTETS, "content-length": BODY_64K.length });
      res.end(BODY_64K);
      return;
    }
    if (path === "/cpu") {
      const body = `cpu ${cpuWork()}`;
      res.writeHead(200, { "content-type": TEXT, "content-length": Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (path.startsWith("/json/")) {
      const body = JSON.stringify({ id: path.slice(6), ok: true });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
      return;
    }
  } else if (req.method === "POST" && path === "/echo") {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { "content-type": OCTETS, "content-length": body.length });
      res.end(body);
    });
    return;
  }
  res.writeHead(404, { "content-type": TEXT, "content-length": 9 });
  res.end("not found");
});
server.listen(PORT, "127.0.0.1");
