// @ts-check
// The reference floor for memory: a toy on raw node:net with no parser at all. It counts the blank lines
// in each read and writes that many fixed replies. Only the idle-connection scenario runs it.
import net from "node:net";
import { PORT } from "./common.mjs";

const REPLY = Buffer.from("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!");

net
  .createServer({ noDelay: true }, (socket) => {
    socket.on("error", () => {});
    socket.on("data", (data) => {
      let n = 0;
      for (let i = data.indexOf("\r\n\r\n"); i !== -1; i = data.indexOf("\r\n\r\n", i + 4)) n++;
      if (n === 1) socket.write(REPLY);
      else if (n > 1) socket.write(Buffer.concat(Array(n).fill(REPLY)));
    });
  })
  .listen(PORT, "127.0.0.1");
