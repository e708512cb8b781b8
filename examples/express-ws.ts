// An Express 5 app with a `ws` WebSocket echo on the same port, unchanged from how it runs under `node`.
// The WebSocketServer attaches to the http.Server's 'upgrade' event; oryx serves the exported server with its
// 'request' and 'upgrade' listeners, so both the routes and ws://HOST:PORT/ws work on oryx's binds.
import http from "node:http";
import express from "express";
import { WebSocketServer } from "ws";

const app = express();

app.get("/", (_req, res) => {
  res.send("Hello from Express, with a WebSocket echo on /ws!");
});

const server = http.createServer(app);
const wss = new WebSocketServer({ server, path: "/ws" });

wss.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => {
    // Echo each message back as it came: text as text, binary as binary.
    socket.send(data, { binary: isBinary });
  });
});

export default server;
