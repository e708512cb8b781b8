/**
 * Before any load: does the peer answer the route correctly? A peer that does not is reported, not measured
 * (a fast wrong answer is not a result).
 */
import { randomBytes } from "node:crypto";
import { get, send } from "./procs.ts";
import type { LoadId } from "./scenarios.ts";

/** Null when the route answers as every peer must, else what was wrong. */
export async function checkRoute(port: number, load: LoadId): Promise<string | null> {
  try {
    switch (load) {
      case "hello":
      case "pipelined": {
        const r = await get(port, "/");
        return expect(r.status === 200 && r.body.toString() === "Hello, World!", `GET / gave ${r.status} ${preview(r.body)}`);
      }
      case "echo": {
        const body = randomBytes(4096);
        const r = await send(port, "POST", "/echo", body);
        return expect(r.status === 200 && r.body.equals(body), `POST /echo gave ${r.status} with ${r.body.length} bytes (not the 4096 sent)`);
      }
      case "64k": {
        const r = await get(port, "/64k");
        return expect(r.status === 200 && r.body.length === 65536, `GET /64k gave ${r.status} with ${r.body.length} bytes`);
      }
      case "json": {
        const r = await get(port, "/json/42");
        let ok = false;
        try {
          const j = JSON.parse(r.body.toString()) as { id?: unknown; ok?: unknown };
          ok = j.id === "42" && j.ok === true;
        } catch {
          ok = false;
        }
        return expect(r.status === 200 && ok, `GET /json/42 gave ${r.status} ${preview(r.body)}`);
      }
      case "users": {
        // The production-shaped Hono app: the JSON, and the headers its middleware sets (so every server ran it).
        const r = await get(port, "/users/7");
        let ok = false;
        try {
          const j = JSON.parse(r.body.toString()) as { id?: unknown; name?: unknown };
          ok = j.id === "7" && typeof j.name === "string";
        } catch {
          ok = false;
        }
        const missing = ["x-response-time", "access-control-allow-origin", "x-content-type-options", "strict-transport-security"].filter((h) => r.headers[h] === undefined);
        if (r.status !== 200 || !ok) return `GET /users/7 gave ${r.status} ${preview(r.body)}`;
        return expect(missing.length === 0, `GET /users/7 lacks the middleware's headers: ${missing.join(", ")}`);
      }
      case "cpu": {
        const r = await get(port, "/cpu");
        return expect(r.status === 200 && r.body.toString().startsWith("cpu "), `GET /cpu gave ${r.status} ${preview(r.body)}`);
      }
    }
  } catch (err) {
    return `request failed: ${(err as Error).message}`;
  }
}

const expect = (ok: boolean, otherwise: string): string | null => (ok ? null : otherwise);
const preview = (b: Buffer): string => JSON.stringify(b.subarray(0, 60).toString());
