// The WebSocket scenario's app, Bun's shape: served unchanged by oryx and by Bun.serve (bench/servers/bun-runner.ts).
// GET / answers (the suite's start check); /echo echoes every message to its sender; a socket on /broadcast
// subscribes to "all", and a message from any of them goes to every subscriber (server.publish, the sender too).
interface Ws {
  data: { room: boolean };
  send(m: string | Uint8Array): number;
  subscribe(t: string): void;
}
interface Server {
  upgrade(req: Request, opts: { data: { room: boolean } }): boolean;
  publish(topic: string, m: string | Uint8Array): number;
}

let server: Server | null = null;

export default {
  port: Number(process.env.PORT ?? 3000),
  fetch(req: Request, s: Server): Response | undefined {
    server = s;
    const path = new URL(req.url).pathname;
    if ((path === "/echo" || path === "/broadcast") && s.upgrade(req, { data: { room: path === "/broadcast" } })) return undefined;
    return new Response("ws server");
  },
  websocket: {
    open(ws: Ws): void {
      if (ws.data.room) ws.subscribe("all");
    },
    message(ws: Ws, message: string | Uint8Array): void {
      if (ws.data.room) server!.publish("all", message);
      else ws.send(message);
    },
  },
};
