// The WebSocket echo app, Bun's shape: served unchanged by oryx and by Bun.serve (bench/ws/echo.ts).
export default {
  port: Number(process.env.PORT ?? 3000),
  fetch(req: Request, server: { upgrade(req: Request): boolean }): Response | undefined {
    if (server.upgrade(req)) return undefined;
    return new Response("echo server");
  },
  websocket: {
    message(ws: { send(m: string | Uint8Array): number }, message: string | Uint8Array): void {
      ws.send(message);
    },
  },
};
