/**
 * A Socket.IO server as socket.io's "Get started" shows it with Node's http module: an http.Server (answering
 * plain requests too), `new Server(httpServer)`, a connection handler with an acknowledged event. It is exported
 * instead of calling httpServer.listen(3000): oryx serves an exported http.Server (and its 'upgrade' listeners).
 */
import { createServer } from "node:http";
import { Server } from "socket.io";

const httpServer = createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
  res.end(`plain HTTP beside Socket.IO: ${req.method} ${req.url}\n`);
});

const io = new Server(httpServer);

io.on("connection", (socket) => {
  socket.emit("welcome", { pid: process.pid });
  socket.on("echo", (message: unknown, ack: (reply: unknown) => void) => {
    ack({ echo: message, pid: process.pid, transport: socket.conn.transport.name });
  });
});

export default httpServer;
