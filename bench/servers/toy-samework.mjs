// @ts-check
// The same-work toy: the ceiling for the user-shaped fetch app (user-app.ts). A raw node:net server with a
// minimal parser (request line, Host, Content-Length) that does, per request, the work the app itself does
// on any server: one async call (the app's `async fetch`) and `new URL()` of the absolute URL built from Host
// and the target (the app's `new URL(request.url)`); then it writes the same response bytes oryx writes for
// that app (status line, content-type, date, content-length, body). Keep-alive; pipelining-aware: the responses
// to every request found in one read go out in one write. No validation, no limits, no timeouts: a toy.
import net from "node:net";
import { PORT } from "./common.mjs";

const HELLO = Buffer.from("Hello, World!");

/** The Date header's value, refreshed once a second (as servers do). */
let date = new Date().toUTCString();
/** GET /'s whole response for the current date, rebuilt when the date changes. */
let hello = helloResponse();
setInterval(() => {
  date = new Date().toUTCString();
  hello = helloResponse();
}, 1000).unref();

function helloResponse() {
  return Buffer.concat([
    Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=utf-8\r\ndate: ${date}\r\ncontent-length: ${HELLO.length}\r\n\r\n`, "latin1"),
    HELLO,
  ]);
}

/** @param {number} status @param {string} type @param {Buffer} body */
function response(status, type, body) {
  const head = `HTTP/1.1 ${status} ${status === 200 ? "OK" : "Not Found"}\r\ncontent-type: ${type}\r\ndate: ${date}\r\ncontent-length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}

/**
 * The app's part: an async call given the parsed URL, as a fetch handler is called.
 * @param {string} method @param {URL} url @param {Buffer | null} body
 * @returns {Promise<Buffer>}
 */
async function app(method, url, body) {
  if (method === "GET" && url.pathname === "/") return hello;
  if (method === "POST" && url.pathname === "/echo") return response(200, "application/octet-stream", body ?? Buffer.alloc(0));
  return response(404, "text/plain;charset=utf-8", Buffer.from("Not Found"));
}

const END = Buffer.from("\r\n\r\n");

net
  .createServer({ noDelay: true }, (socket) => {
    /** @type {Buffer | null} bytes read and not yet parsed */
    let pending = null;
    let busy = false;
    let closing = false;

    const serve = async () => {
      busy = true;
      /** @type {Buffer[]} */
      const out = [];
      while (pending !== null && !closing) {
        const buf = pending;
        const end = buf.indexOf(END);
        if (end === -1) break;
        const lines = buf.toString("latin1", 0, end).split("\r\n");
        const line = /** @type {string} */ (lines[0]);
        const sp = line.indexOf(" ");
        const method = line.slice(0, sp);
        const target = line.slice(sp + 1, line.indexOf(" ", sp + 1));
        let host = "";
        let length = 0;
        for (let i = 1; i < lines.length; i++) {
          const field = /** @type {string} */ (lines[i]);
          const colon = field.indexOf(":");
          const name = field.slice(0, colon).toLowerCase();
          if (name === "host") host = field.slice(colon + 1).trim();
          else if (name === "content-length") length = Number(field.slice(colon + 1).trim());
          else if (name === "connection" && field.slice(colon + 1).trim().toLowerCase() === "close") closing = true;
        }
        const total = end + 4 + length;
        if (buf.length < total) {
          closing = false;
          break; // the body is still coming
        }
        const body = length > 0 ? buf.subarray(end + 4, total) : null;
        pending = total === buf.length ? null : buf.subarray(total);
        out.push(await app(method, new URL(`http://${host}${target}`), body));
      }
      if (out.length === 1) socket.write(/** @type {Buffer} */ (out[0]));
      else if (out.length > 1) socket.write(Buffer.concat(out));
      if (closing) socket.end();
      busy = false;
    };

    socket.on("error", () => {});
    socket.on("data", (chunk) => {
      pending = pending === null ? chunk : Buffer.concat([pending, chunk]);
      if (!busy) void serve();
    });
  })
  .listen(PORT, "127.0.0.1");
