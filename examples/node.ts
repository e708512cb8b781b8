// A Node (req, res) app with no framework: a listener function of two parameters, as Express's app is one.
// oryx hands it Node's own IncomingMessage and ServerResponse (`oryx examples/node.ts`).
import type http from "node:http";

export default function app(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.end(`Hello from a Node (req, res) app: ${req.method} ${req.url}\n`);
}
