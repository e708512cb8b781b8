// The same echo on node:http with the ws package (the usual way on Node), for comparison.
import http from "node:http";
import { WebSocketServer } from "ws";

const server = http.createServer((_req, res) => res.end("echo server"));
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1");
