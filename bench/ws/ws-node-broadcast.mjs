// Broadcast on node:http with ws: a message from any socket goes to every client (the usual loop over clients).
import http from "node:http";
import { WebSocketServer } from "ws";

const server = http.createServer((_req, res) => res.end("broadcast server"));
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on("connection", (ws) =>
  ws.on("message", (data, isBinary) => {
    for (const c of wss.clients) c.send(data, { binary: isBinary });
  }),
);
server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1");
