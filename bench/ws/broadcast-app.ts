// Broadcast, Bun's shape: every socket subscribes to "all"; a message from any socket goes to every subscriber
// (server.publish, the sender included). Served unchanged by oryx and Bun.serve (bench/ws/echo.ts broadcast).
let server: { publish(topic: string, m: string | Uint8Array): number } | null = null;

export default {
  port: Number(process.env.PORT ?? 3000),
  fetch(req: Request, s: { upgrade(req: Request): boolean; publish(topic: string, m: string | Uint8Array): number }): Response | undefined {
    server = s;
    if (s.upgrade(req)) return undefined;
    return new Response("broadcast server");
  },
  websocket: {
    open(ws: { subscribe(t: string): void }): void {
      ws.subscribe("all");
    },
    message(_ws: unknown, message: string | Uint8Array): void {
      server!.publish("all", message);
    },
  },
};
