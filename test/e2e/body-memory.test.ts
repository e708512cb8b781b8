/**
 * A request body costs a worker memory in proportion to its bytes, however small its chunks (issue 18). Through
 * the real CLI with one worker: a body of BODY bytes (a..z repeated) in the chunked coding, 1 byte a chunk
 * (`1\r\na\r\n1\r\nb\r\n…`, written in ~64 KiB batches), POSTed to an app that reads all of it; the answer must
 * carry the body's length and SHA-256, and the worker's peak RSS (VmHWM) may grow by at most BOUND over a warm-up
 * request.
 *
 * Figures for a 4 MiB body (peak growth; the bound is 64 MiB + 4 × 4 MiB = 80 MiB): when every chunk reached the
 * app as a Buffer of its own, fetch apps 467-504 MiB (about 120 bytes per body byte: arrayBuffer(), text(), a
 * reader keeping its chunks) and Express 1.6 GiB (about 400 bytes per body byte: express.raw(), req.on("data"));
 * with the chunks of a read gathered into one buffer (oryx's decoder; a gatherer on Node's req.push), 28-38 MiB.
 * About 10 s in all.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { memoryKiB, patternSha256, postChunked } from "../../bench/body-client.ts";
import { ensureBuilt } from "../support/cli.ts";
import { cleanup, launch, LOCAL, stop } from "../support/pool.ts";

before(ensureBuilt);
after(cleanup);

const BODY = 4 * 1024 * 1024;
const BOUND_KIB = (64 * 1024 * 1024 + 4 * BODY) / 1024;

const cases: Array<{ name: string; app: string; target: string }> = [
  { name: "fetch app, await request.arrayBuffer()", app: "test/fixtures/body-sink.ts", target: "/?via=arrayBuffer" },
  { name: "fetch app, await request.text()", app: "test/fixtures/body-sink.ts", target: "/?via=text" },
  { name: "fetch app, request.body's reader, every chunk kept", app: "test/fixtures/body-sink.ts", target: "/?via=reader" },
  { name: "Express app, express.raw()", app: "test/fixtures/body-sink-express.ts", target: "/raw" },
  { name: "Express app, req.on('data') gathering the chunks", app: "test/fixtures/body-sink-express.ts", target: "/data" },
];

describe(`a ${BODY / 1024 / 1024} MiB body in 1-byte chunks costs the worker less than ${BOUND_KIB / 1024} MiB of peak RSS`, { concurrency: false }, () => {
  for (const c of cases) {
    test(c.name, async (t) => {
      const o = await launch([c.app, "-w", "1", ...LOCAL]);
      try {
        const [worker] = o.workers();
        assert.ok(worker !== undefined, "a worker");
        const warm = await postChunked({ port: o.port, target: c.target, bytes: 4096, timeoutMs: 10_000 });
        assert.equal(warm.status, 200, `warm-up: ${warm.error} ${warm.body}`);
        const before = memoryKiB(worker)!;
        const r = await postChunked({ port: o.port, target: c.target, bytes: BODY, timeoutMs: 60_000 });
        const peak = memoryKiB(worker);
        assert.ok(peak !== null, `the worker died:\n${o.stderr()}`);
        assert.equal(r.status, 200, `${r.error} ${r.body}`);
        assert.deepEqual(JSON.parse(r.body), { length: BODY, sha256: patternSha256(BODY) });
        const growth = peak.peak - before.peak;
        t.diagnostic(`peak RSS growth ${(growth / 1024).toFixed(1)} MiB`);
        assert.ok(growth < BOUND_KIB, `the worker's peak RSS grew by ${(growth / 1024).toFixed(1)} MiB (bound ${BOUND_KIB / 1024} MiB)`);
      } finally {
        await stop(o);
      }
    });
  }
});
