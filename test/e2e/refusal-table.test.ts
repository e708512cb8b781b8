/**
 * One refusal table (test/support/refusal-table.ts), two kinds of app, through the real CLI (-w 2): a fetch app and an
 * Express app, each writing every request it is handed to a file. Every refused request gets the same bytes
 * from both (but the Date), `Connection: close` and a closed connection; a valid request appended after it is
 * never answered; the app is handed no request (a body-framing refusal: the request, but never its body's end).
 * Requests oryx accepts that llhttp alone would refuse or read otherwise are answered alike too.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ensureBuilt } from "../support/cli.ts";
import { raw } from "../support/client.ts";
import { cleanup, launch, type Oryx } from "../support/pool.ts";
import { parseResponses } from "../support/response.ts";
import { ACCEPTED, LIMIT_FLAGS, REFUSALS, type RefusalCase } from "../support/refusal-table.ts";

const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";

interface Served {
  kind: string;
  oryx: Oryx;
  seenFile: string;
}

const dir = mkdtempSync(path.join(tmpdir(), "oryx-refusals-"));
let fetchApp: Served;
let nodeApp: Served;

async function serve(kind: string, spec: string): Promise<Served> {
  const seenFile = path.join(dir, `${kind}.seen`);
  writeFileSync(seenFile, "");
  const oryx = await launch([spec, "-w", "2", "-b", "127.0.0.1:0", ...LIMIT_FLAGS], { env: { ORYX_SEEN_FILE: seenFile } });
  return { kind, oryx, seenFile };
}

before(async () => {
  ensureBuilt();
  [fetchApp, nodeApp] = await Promise.all([serve("fetch", "test/fixtures/seen-fetch.ts"), serve("node", "test/fixtures/seen-express.ts")]);
});

after(async () => {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** What the app wrote since the last call (and forget it). */
function seen(s: Served): string[] {
  const lines = readFileSync(s.seenFile, "latin1").split("\n").filter((l) => l !== "");
  writeFileSync(s.seenFile, "");
  return lines;
}

/** The answer with its Date's value blanked (the one field that may differ between two answers). */
const sameness = (text: string): string => text.replace(/^date: .*$/gim, "date: <date>");

async function refusedBy(s: Served, c: RefusalCase, split: boolean): Promise<string> {
  const bytes = c.bytes + SMUGGLED;
  const r = split ? await raw(s.oryx.port, Array.from(bytes), { gapMs: 1, timeoutMs: 10_000 }) : await raw(s.oryx.port, bytes, { timeoutMs: 5000 });
  const what = `${s.kind} app, ${c.name}${split ? " (one byte per write)" : ""}`;
  const rs = parseResponses(r.text);
  assert.equal(rs.length, 1, `${what}: exactly one response expected, got ${JSON.stringify(r.text)}`);
  assert.equal(rs[0]!.status, c.status, `${what}: ${JSON.stringify(r.text)}`);
  assert.deepEqual(rs[0]!.headers["connection"], ["close"], `${what}: Connection: close`);
  assert.ok(r.closed, `${what}: the connection was closed`);
  const lines = seen(s);
  assert.ok(!lines.some((l) => l.includes("/smuggled")), `${what}: the request after the refused one reached the app`);
  if (c.appSees === true) {
    assert.ok(lines.every((l) => l.startsWith("start ")), `${what}: the app got to the end of a refused body: ${lines.join(", ")}`);
  } else {
    assert.deepEqual(lines, [], `${what}: the app was handed the refused request`);
  }
  return sameness(r.text);
}

describe("the refusal table: a fetch app and an Express app give the same answers, and neither app is handed the request", { concurrency: false }, () => {
  for (const c of REFUSALS) {
    test(`${c.name} → ${c.status}`, async () => {
      const a = await refusedBy(fetchApp, c, false);
      const b = await refusedBy(nodeApp, c, false);
      assert.equal(b, a, "the Node app's answer differs from the fetch app's");
      if (c.split === true) {
        const sa = await refusedBy(fetchApp, c, true);
        const sb = await refusedBy(nodeApp, c, true);
        assert.equal(sb, sa, "split one byte per write: the Node app's answer differs from the fetch app's");
      }
    });
  }
});

describe("accepted alike: requests oryx accepts reach both apps the same way", { concurrency: false }, () => {
  for (const c of ACCEPTED) {
    test(c.name, async () => {
      for (const s of [fetchApp, nodeApp]) {
        const r = await raw(s.oryx.port, c.bytes, { timeoutMs: 5000 });
        const rs = parseResponses(r.text);
        assert.deepEqual(rs.map((x) => [x.status, x.body]), c.bodies.map((b) => [200, b]), `${s.kind} app: ${JSON.stringify(r.text)}`);
        assert.ok(r.closed, `${s.kind} app: the connection was closed after the last request`);
        seen(s);
      }
    });
  }
});
