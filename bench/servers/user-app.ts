// The user-shaped fetch app: written as a user writes one (a URL parsed per request, an async handler, headers
// set on each Response), served unchanged by oryx (node dist/cli.js bench/servers/user-app.ts) and by Bun.serve
// (bun-runner.ts). The suite loads GET /, POST /echo (4 KiB) and pipelined GET /.

interface User {
  id: string;
  name: string;
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/") {
      return new Response("Hello, World!", { headers: { "content-type": "text/plain;charset=utf-8" } });
    }
    if (request.method === "POST" && url.pathname === "/echo") {
      const body = await request.arrayBuffer();
      return new Response(body, { headers: { "content-type": "application/octet-stream" } });
    }
    if (request.method === "POST" && url.pathname === "/json") {
      const data: unknown = await request.json();
      return Response.json({ received: data }, { status: 201 });
    }
    if (request.method === "GET" && url.pathname.startsWith("/users/")) {
      const user: User = { id: url.pathname.slice("/users/".length), name: "Ada Lovelace" };
      return Response.json(user);
    }
    return new Response("Not Found", { status: 404, headers: { "content-type": "text/plain;charset=utf-8" } });
  },
};
