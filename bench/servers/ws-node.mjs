// The WebSocket scenario on node:http with the ws package (the usual way on Node): the same routes as
// ws-app.ts. /echo echoes; a message from a /broadcast socket goes to every /broadcast socket (the usual loop).
import http from "node:http";
import { WebSocketServer } from "ws";

const server = http.createServer((_req, res) => res.end("ws server"));
const wss = new WebSocketServer({ server, perMessageDeflate: false });
const room = new Set();
wss.on("connection", (ws, req) => {
  if (req.url === "/broadcast") {
    room.add(ws);
    ws.on("close", () => room.delete(ws));
    ws.on("message", (data, isBinary) => {
      for (const c of room) c.send(data, { binary: isBinary });
    });
  } else {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
});
server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1");
