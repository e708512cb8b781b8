/**
 * Socket.IO (test/compat/apps/socketio.ts, an exported http.Server with socket.io attached) under oryx, with
 * socket.io-client, and the same checks on node:http serving the same server (the usual way, to show the checks
 * themselves hold).
 *
 * With one worker, the client's default transports work: HTTP long-polling first, then the upgrade to a
 * WebSocket. With two workers only `transports: ["websocket"]` is expected to work: a polling session is a series
 * of separate HTTP requests (the handshake, then a GET and a POST for each exchange) that must all reach the
 * process that holds the session, and oryx's workers share one listening socket with no sticky routing, so a
 * request may reach the other worker, which answers 400 "Session ID unknown". A WebSocket is one connection,
 * accepted by one worker for its whole life. (The README's "several workers and stateful protocols" says so.)
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { io, type Socket } from "socket.io-client";
import { type Oryx } from "../support/pool.ts";
import { within } from "../support/wait.ts";
import { appPath, send, startOryx, startUsual, stopAll, type Usual } from "./harness.ts";

after(() => stopAll());

const APP = appPath("socketio.ts");

interface Echo {
  echo: unknown;
  pid: number;
  transport: string;
}

/** Connects a client, waits for the server's welcome; closes it in `t.after`. */
async function connect(port: number, opts: { transports?: Array<"polling" | "websocket"> }, cleanup: Array<() => void>): Promise<{ socket: Socket; welcome: { pid: number } }> {
  const socket = io(`http://127.0.0.1:${port}`, { forceNew: true, reconnection: false, timeout: 5000, ...opts });
  cleanup.push(() => socket.close());
  const welcome = await within(
    new Promise<{ pid: number }>((resolve, reject) => {
      socket.once("welcome", resolve);
      socket.once("connect_error", (err) => reject(new Error(`connect_error: ${err.message}`)));
    }),
    10_000,
    "the server's welcome",
  );
  return { socket, welcome };
}

function echo(socket: Socket, message: unknown): Promise<Echo> {
  return within(socket.timeout(5000).emitWithAck("echo", message) as Promise<Echo>, 10_000, "the echo's acknowledgement");
}

/** The default transports: polling, an echo over it, the upgrade to a WebSocket, an echo over that. */
async function pollingThenUpgrade(port: number, who: string): Promise<void> {
  const cleanup: Array<() => void> = [];
  try {
    const { socket, welcome } = await connect(port, {}, cleanup);
    const engine = socket.io.engine;
    const upgraded = engine.transport.name === "websocket" ? Promise.resolve() : new Promise<void>((resolve) => engine.once("upgrade", () => resolve()));
    const first = await echo(socket, { n: 1, text: "über polling" });
    assert.deepEqual(first.echo, { n: 1, text: "über polling" }, who);
    assert.equal(first.pid, welcome.pid, `${who}: one process served the session`);
    await within(upgraded, 10_000, `${who}: the upgrade to a WebSocket`);
    assert.equal(engine.transport.name, "websocket", who);
    const second = await echo(socket, { n: 2 });
    assert.deepEqual(second.echo, { n: 2 }, who);
    assert.equal(second.transport, "websocket", `${who}: the server saw the upgraded transport`);
  } finally {
    for (const c of cleanup) c();
  }
}

/** `clients` WebSocket-only clients at once, each with a few echoes; returns the server pids that answered. */
async function websocketOnly(port: number, clients: number, who: string): Promise<Set<number>> {
  const cleanup: Array<() => void> = [];
  const pids = new Set<number>();
  try {
    await Promise.all(
      Array.from({ length: clients }, async (_, i) => {
        const { socket, welcome } = await connect(port, { transports: ["websocket"] }, cleanup);
        for (let n = 0; n < 3; n++) {
          const r = await echo(socket, { client: i, n });
          assert.deepEqual(r.echo, { client: i, n }, who);
          assert.equal(r.transport, "websocket", who);
          assert.equal(r.pid, welcome.pid, `${who}: one process for the whole connection`);
        }
        pids.add(welcome.pid);
      }),
    );
  } finally {
    for (const c of cleanup) c();
  }
  return pids;
}

describe("Socket.IO: an exported http.Server with socket.io attached", () => {
  let one: Oryx;
  let two: Oryx;
  let usual: Usual;
  before(async () => {
    [one, two, usual] = await Promise.all([startOryx(APP, 1), startOryx(APP, 2), startUsual(APP, "node")]);
  });

  describe("checks", { concurrency: true }, () => {
    test("node:http (the usual server): polling, then the upgrade, round-trips", () => pollingThenUpgrade(usual.port, "node:http"));
    test("node:http (the usual server): WebSocket-only clients round-trip", async () => {
      await websocketOnly(usual.port, 3, "node:http");
    });

    test("oryx -w 1: default transports (polling, then the upgrade to a WebSocket) round-trip", () => pollingThenUpgrade(one.port, "oryx -w 1"));

    test("oryx -w 2: WebSocket-only clients round-trip, each with the worker that accepted it", async () => {
      const pids = await websocketOnly(two.port, 6, "oryx -w 2");
      const workers = new Set(two.workers());
      for (const pid of pids) assert.ok(workers.has(pid), `pid ${pid} is one of oryx's workers (${[...workers].join(", ")})`);
    });

    test("oryx -w 2: the http.Server's own request handler answers plain HTTP", async () => {
      const r = await send(two.port, { path: "/plain?x=1" });
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), "plain HTTP beside Socket.IO: GET /plain?x=1\n");
    });

    test("oryx -w 2: the Socket.IO handshake over polling is answered (the first request of a session)", async () => {
      const r = await send(two.port, { path: "/socket.io/?EIO=4&transport=polling" });
      assert.equal(r.status, 200, r.body.toString());
      assert.match(r.body.toString(), /^0\{"sid":"[^"]+","upgrades":\["websocket"\]/);
    });
  });

  test("afterwards: both oryx servers still run", () => {
    assert.equal(one.proc.exitCode, null, one.stderr());
    assert.equal(two.proc.exitCode, null, two.stderr());
    assert.equal(two.workers().length, 2, two.stderr());
  });
});
