/**
 * Property tests: however the bytes of valid requests are split, they parse to the same thing.
 *
 * (a) Parser level: HeadParser + ChunkedDecoder, fed a pipelined run of generated requests whole and split at
 *     random points, give the same heads and bodies, and those match the generated model.
 * (b) Socket level: a random sequence of valid requests pipelined on one connection, written in random splits,
 *     gets its responses in order, each the same as the one the same request gets on a connection of its own.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { ChunkedDecoder, HeadParser, type Limits, type RequestHead } from "../../src/http/index.ts";
import { raw } from "../support/client.ts";
import { parseResponses } from "../support/response.ts";
import { startServer, type TestServer } from "../support/server.ts";

const LIMITS: Limits = { requestLine: 8192, fields: 100, fieldSize: 8192, body: 16 * 1024 * 1024 };

// ─── generators ─────────────────────────────────────────────────────────────────────────────────────────────

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const tchar = fc.constantFrom(...TCHARS.split(""));
const token = (maxLength = 12): fc.Arbitrary<string> => fc.string({ unit: tchar, minLength: 1, maxLength });

/** Visible ASCII but "#" and "\\" (what a request-target may hold). */
const targetChar = fc.integer({ min: 0x21, max: 0x7e }).filter((c) => c !== 0x23 && c !== 0x5c).map((c) => String.fromCharCode(c));
/** What a field value may hold: HTAB, SP, visible ASCII, obs-text. */
const fieldChar = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constant("\t") },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)) },
);
const ows = fc.constantFrom("", "", " ", "\t", "  ", " \t");
const eol = fc.constantFrom("\r\n", "\r\n", "\r\n", "\n"); // the head accepts a bare LF

const RESERVED = new Set(["host", "content-length", "transfer-encoding", "connection", "expect"]);

function caseOf(name: string): fc.Arbitrary<string> {
  const title = name.replace(/(^|-)([a-z])/g, (_m, a: string, b: string) => a + b.toUpperCase());
  return fc.constantFrom(name, title, name.toUpperCase());
}

interface Field {
  /** Exactly as on the wire, without the line end. */
  wire: string;
  eol: string;
  name: string;
  value: string;
}

const randomField: fc.Arbitrary<Field> = fc
  .record({ name: token(16), pre: ows, value: fc.string({ unit: fieldChar, maxLength: 24 }), post: ows, eol })
  .filter((f) => !RESERVED.has(f.name.toLowerCase()))
  .map((f) => ({
    wire: `${f.name}:${f.pre}${f.value}${f.post}`,
    eol: f.eol,
    name: f.name.toLowerCase(),
    value: f.value.replace(/^[ \t]+|[ \t]+$/g, ""),
  }));

function special(name: string, value: string): fc.Arbitrary<Field> {
  return fc.record({ n: caseOf(name), pre: ows, post: ows, eol }).map((f) => ({
    wire: `${f.n}:${f.pre}${value}${f.post}`,
    eol: f.eol,
    name,
    value,
  }));
}

const hostValue = fc.oneof(
  fc.constantFrom("example.com", "localhost:8080", "127.0.0.1", "[::1]:80", "a-b.c_d~e"),
  fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789.-".split("")), minLength: 1, maxLength: 20 }),
);

const target = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: targetChar, maxLength: 40 }).map((s) => `/${s}`) },
  { weight: 1, arbitrary: fc.tuple(hostValue, fc.string({ unit: targetChar, maxLength: 20 })).map(([h, p]) => `http://${h}/${p}`) },
  { weight: 1, arbitrary: fc.constant("*") },
);

const method = fc.oneof(fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"), token(10)).filter((m) => m !== "CONNECT");

const extension = fc.oneof(
  token(8).map((n) => `;${n}`),
  fc.tuple(token(8), token(8)).map(([n, v]) => `;${n}=${v}`),
  fc.tuple(token(8), fc.string({ unit: fc.constantFrom(..."abc xyz,;=\t".split("")), maxLength: 10 })).map(([n, v]) => `;${n}="${v}"`),
  // BWS inside the extension (oryx refuses whitespace between the size and ";", by design).
  fc.tuple(token(6), token(6)).map(([n, v]) => `; ${n} = ${v}`),
);

const chunkSizeText = (n: number): fc.Arbitrary<string> =>
  fc.record({ upper: fc.boolean(), zeros: fc.integer({ min: 0, max: 3 }) }).map(({ upper, zeros }) => {
    const hex = n.toString(16);
    return "0".repeat(zeros) + (upper ? hex.toUpperCase() : hex);
  });

type BodySpec =
  | { kind: "none" }
  | { kind: "length"; body: Uint8Array; dup: boolean }
  | { kind: "chunked"; chunks: Array<{ data: Uint8Array; size: string; ext: string[] }>; last: { size: string; ext: string[] }; trailers: Field[] };

const chunkedBody: fc.Arbitrary<BodySpec> = fc
  .record({
    chunks: fc.array(fc.uint8Array({ minLength: 1, maxLength: 300, size: "max" }), { maxLength: 6 }),
    lastZeros: fc.integer({ min: 1, max: 3 }),
    lastExt: fc.array(extension, { maxLength: 2 }),
    trailers: fc.array(randomField.map((f) => ({ ...f, eol: "\r\n" })), { maxLength: 3 }),
  })
  .chain(({ chunks, lastZeros, lastExt, trailers }) =>
    fc
      .tuple(...chunks.map((data) => fc.record({ size: chunkSizeText(data.length), ext: fc.array(extension, { maxLength: 2 }) }).map((c) => ({ data, ...c }))))
      .map((cs): BodySpec => ({ kind: "chunked", chunks: cs, last: { size: "0".repeat(lastZeros), ext: lastExt }, trailers })),
  );

const lengthBody: fc.Arbitrary<BodySpec> = fc
  .record({ body: fc.uint8Array({ maxLength: 400, size: "max" }), dup: fc.boolean() })
  .map(({ body, dup }): BodySpec => ({ kind: "length", body, dup }));

interface GenRequest {
  bytes: Buffer;
  head: RequestHead;
  body: Buffer;
}

const request: fc.Arbitrary<GenRequest> = fc
  .record({
    method,
    target,
    minor: fc.constantFrom(0, 1) as fc.Arbitrary<0 | 1>,
    leading: fc.array(fc.constantFrom("\r\n", "\n"), { maxLength: 2 }),
    lineEol: eol,
    finalEol: eol,
    fields: fc.array(randomField, { maxLength: 8 }),
    host: hostValue,
    hostOn10: fc.boolean(),
    connection: fc.constantFrom(null, "close", "keep-alive", "Keep-Alive, x-foo", "x-foo ,close", "Upgrade", "keep-alive, upgrade"),
    expect: fc.boolean(),
    positions: fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
  })
  .filter((r) => (r.target !== "*" || r.method === "OPTIONS"))
  .chain((r) =>
    fc
      .record({
        body: r.minor === 1 ? fc.oneof(fc.constant<BodySpec>({ kind: "none" }), lengthBody, chunkedBody) : fc.oneof(fc.constant<BodySpec>({ kind: "none" }), lengthBody),
        hostField: special("host", "PLACEHOLDER"),
        clField: special("content-length", "PLACEHOLDER"),
        clField2: special("content-length", "PLACEHOLDER"),
        teField: fc.constantFrom("chunked", "Chunked", "CHUNKED").chain((v) => special("transfer-encoding", v)),
        connField: special("connection", r.connection ?? "close"),
        expectField: fc.constantFrom("100-continue", "100-Continue").chain((v) => special("expect", v)),
      })
      .map((x) => build(r, x)),
  );

function build(
  r: {
    method: string; target: string; minor: 0 | 1; leading: string[]; lineEol: string; finalEol: string; fields: Field[]; host: string;
    hostOn10: boolean; connection: string | null; expect: boolean; positions: number[];
  },
  x: { body: BodySpec; hostField: Field; clField: Field; clField2: Field; teField: Field; connField: Field; expectField: Field },
): GenRequest {
  const fields = [...r.fields];
  const insert = (f: Field, i: number): void => {
    fields.splice(r.positions[i]! % (fields.length + 1), 0, f);
  };
  const withValue = (f: Field, value: string): Field => ({ ...f, wire: f.wire.replace("PLACEHOLDER", value), value });
  let host = "";
  if (r.minor === 1 || r.hostOn10) {
    host = r.host;
    insert(withValue(x.hostField, r.host), 0);
  }
  const body = x.body;
  let bodyBytes = Buffer.alloc(0);
  let wireBody = Buffer.alloc(0);
  let framing: RequestHead["framing"] = "none";
  let contentLength = 0;
  if (body.kind === "length") {
    const n = String(body.body.length);
    insert(withValue(x.clField, n), 1);
    if (body.dup) insert(withValue(x.clField2, n), 2);
    bodyBytes = Buffer.from(body.body);
    wireBody = bodyBytes;
    if (body.body.length > 0) {
      framing = "length";
      contentLength = body.body.length;
    }
  } else if (body.kind === "chunked") {
    insert(x.teField, 1);
    framing = "chunked";
    const parts: Buffer[] = [];
    for (const c of body.chunks) {
      parts.push(Buffer.from(`${c.size}${c.ext.join("")}\r\n`, "latin1"), Buffer.from(c.data), Buffer.from("\r\n"));
    }
    parts.push(Buffer.from(`${body.last.size}${body.last.ext.join("")}\r\n`, "latin1"));
    for (const t of body.trailers) parts.push(Buffer.from(`${t.wire}\r\n`, "latin1"));
    parts.push(Buffer.from("\r\n"));
    wireBody = Buffer.concat(parts);
    bodyBytes = Buffer.concat(body.chunks.map((c) => Buffer.from(c.data)));
  }
  let keepAlive = r.minor === 1;
  let upgrade = false;
  if (r.connection !== null) {
    insert(x.connField, 3);
    const tokens = r.connection.split(",").map((t) => t.trim().toLowerCase());
    // The parser stops reading the tokens at close, as it needs no more of them.
    const closeAt = tokens.indexOf("close");
    upgrade = tokens.slice(0, closeAt === -1 ? tokens.length : closeAt + 1).includes("upgrade");
    if (tokens.includes("close")) keepAlive = false;
    else if (tokens.includes("keep-alive") && r.minor === 0) keepAlive = true;
  }
  if (r.expect) insert(x.expectField, 4);
  const head =
    r.leading.join("") +
    `${r.method} ${r.target} HTTP/1.${r.minor}${r.lineEol}` +
    fields.map((f) => f.wire + f.eol).join("") +
    r.finalEol;
  return {
    bytes: Buffer.concat([Buffer.from(head, "latin1"), wireBody]),
    head: {
      method: r.method,
      target: r.target,
      versionMinor: r.minor,
      headers: fields.flatMap((f) => [f.name, f.value]),
      host,
      framing,
      contentLength,
      keepAlive,
      expectContinue: r.expect && r.minor === 1 && framing !== "none",
      upgrade,
    },
    body: bodyBytes,
  };
}

/** Split points for a buffer of `n` bytes: random cut positions, or every single byte. */
function splitsOf(n: number): fc.Arbitrary<number[]> {
  if (n < 2) return fc.constant([]);
  return fc.oneof(
    { weight: 5, arbitrary: fc.uniqueArray(fc.integer({ min: 1, max: n - 1 }), { maxLength: 24 }).map((a) => a.sort((x, y) => x - y)) },
    { weight: 1, arbitrary: fc.constant(Array.from({ length: n - 1 }, (_, i) => i + 1)) },
  );
}

function split(buf: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out.filter((b) => b.length > 0);
}

// ─── (a) parser level ───────────────────────────────────────────────────────────────────────────────────────

interface Parsed {
  head: RequestHead;
  body: string; // hex
}

/** Drives HeadParser and ChunkedDecoder over a run of pipelined requests, as the connection does. */
function parseStream(chunks: Buffer[]): { requests: Parsed[]; leftover: boolean } {
  const parser = new HeadParser(LIMITS);
  const requests: Parsed[] = [];
  let inBody = false;
  let head: RequestHead | null = null;
  let body: Buffer[] = [];
  let remaining = 0;
  let decoder: ChunkedDecoder | null = null;
  const done = (): void => {
    requests.push({ head: head!, body: Buffer.concat(body).toString("hex") });
    inBody = false;
    head = null;
    body = [];
    decoder = null;
    parser.reset();
  };
  for (const chunk of chunks) {
    let off = 0;
    while (off < chunk.length) {
      if (!inBody) {
        const end = parser.execute(chunk, off);
        if (end < 0) break;
        off = end;
        head = parser.finish(LIMITS.body);
        if (head.framing === "none") {
          done();
          continue;
        }
        inBody = true;
        remaining = head.contentLength;
        decoder = head.framing === "chunked" ? new ChunkedDecoder(LIMITS) : null;
      } else if (decoder !== null) {
        const end = decoder.execute(chunk, off, (b) => body.push(Buffer.from(b)));
        if (end < 0) break;
        off = end;
        done();
      } else {
        const n = Math.min(remaining, chunk.length - off);
        body.push(Buffer.from(chunk.subarray(off, off + n)));
        remaining -= n;
        off += n;
        if (remaining === 0) done();
      }
    }
  }
  return { requests, leftover: inBody || parser.started };
}

describe("property: parsing does not depend on how the bytes are split", { timeout: 40_000 }, () => {
  test("HeadParser + ChunkedDecoder: split input parses exactly like whole input, and like the model", () => {
    const arb = fc.array(request, { minLength: 1, maxLength: 3 }).chain((reqs) => {
      const all = Buffer.concat(reqs.map((r) => r.bytes));
      return fc.tuple(fc.constant(reqs), fc.constant(all), splitsOf(all.length));
    });
    fc.assert(
      fc.property(arb, ([reqs, all, cuts]) => {
        const whole = parseStream([all]);
        const pieces = parseStream(split(all, cuts));
        assert.deepEqual(pieces, whole);
        assert.equal(whole.leftover, false);
        assert.deepEqual(
          whole.requests,
          reqs.map((r) => ({ head: r.head, body: r.body.toString("hex") })),
        );
      }),
      { numRuns: 100, interruptAfterTimeLimit: 10_000, markInterruptAsFailure: true },
    );
  });

  test("a refusal does not depend on the split either: the same error for whole and split bytes", () => {
    // A valid request with one byte replaced by a control character: parsing must fail (or not) identically.
    const arb = request.chain((r) =>
      fc.tuple(fc.constant(r), fc.integer({ min: 0, max: r.bytes.length - 1 }), fc.constantFrom(0x00, 0x01, 0x0d, 0x7f)).chain(([req, at, byte]) => {
        const bad = Buffer.from(req.bytes);
        bad[at] = byte;
        return fc.tuple(fc.constant(bad), splitsOf(bad.length));
      }),
    );
    const outcome = (chunks: Buffer[]): unknown => {
      try {
        return { ok: parseStream(chunks) };
      } catch (err) {
        return { err: (err as { code?: string }).code ?? String(err) };
      }
    };
    fc.assert(
      fc.property(arb, ([bad, cuts]) => {
        assert.deepEqual(outcome(split(bad, cuts)), outcome([bad]));
      }),
      { numRuns: 100, interruptAfterTimeLimit: 10_000, markInterruptAsFailure: true },
    );
  });
});

// ─── (b) socket level ───────────────────────────────────────────────────────────────────────────────────────

interface WireRequest {
  bytes: Buffer;
  method: string;
  path: string;
  body: Buffer;
}

const pathChar = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789-._~".split(""));
const wireRequest: fc.Arbitrary<WireRequest> = fc
  .record({
    method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PURGE"),
    path: fc.array(fc.string({ unit: pathChar, minLength: 1, maxLength: 8 }), { maxLength: 3 }).map((segs) => `/${segs.join("/")}`),
    query: fc.option(fc.string({ unit: fc.constantFrom(..."abc123=&".split("")), maxLength: 10 }), { nil: undefined }),
    minor: fc.constantFrom(0, 1, 1, 1) as fc.Arbitrary<0 | 1>,
    fields: fc.array(
      fc.record({
        name: fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789-".split("")), minLength: 1, maxLength: 10 }),
        value: fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 20 }),
      }),
      { maxLength: 5 },
    ),
    framing: fc.constantFrom("none", "length", "chunked"),
    // Mostly small bodies; some larger than one socket read (64 KiB), so a body spans reads.
    body: fc.oneof(
      { weight: 6, arbitrary: fc.uint8Array({ maxLength: 2000, size: "max" }) },
      { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 100_000 }).map((n) => new Uint8Array(n).map((_, i) => i * 7)) },
    ),
    cuts: fc.array(fc.integer({ min: 1, max: 100_000 }), { maxLength: 4 }),
    ext: fc.boolean(),
    trailer: fc.boolean(),
  })
  .map((r): WireRequest => {
    const path = r.query === undefined ? r.path : `${r.path}?${r.query}`;
    let framing = r.framing;
    if (framing === "chunked" && r.minor === 0) framing = "length";
    const lines = [`${r.method} ${path} HTTP/1.${r.minor}`, "Host: prop.test"];
    if (r.minor === 0) lines.push("Connection: keep-alive");
    for (const f of r.fields) lines.push(`x-${f.name}: ${f.value}`);
    let wireBody = Buffer.alloc(0);
    let body = Buffer.alloc(0);
    if (framing === "length") {
      body = Buffer.from(r.body);
      lines.push(`Content-Length: ${body.length}`);
      wireBody = body;
    } else if (framing === "chunked") {
      body = Buffer.from(r.body);
      lines.push("Transfer-Encoding: chunked");
      const parts: Buffer[] = [];
      let prev = 0;
      for (const c of [...new Set(r.cuts)].sort((a, b) => a - b).filter((c) => c < body.length).concat([body.length])) {
        if (c === prev) continue;
        parts.push(Buffer.from(`${(c - prev).toString(16)}${r.ext ? ";n=v" : ""}\r\n`), body.subarray(prev, c), Buffer.from("\r\n"));
        prev = c;
      }
      parts.push(Buffer.from(`0\r\n${r.trailer ? "x-trailer: yes\r\n" : ""}\r\n`));
      wireBody = Buffer.concat(parts);
    }
    // GET bodies are not handed to the app (fetch forbids them): they are drained, and the echo shows none.
    const seenBody = r.method === "GET" ? Buffer.alloc(0) : body;
    return { bytes: Buffer.concat([Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1"), wireBody]), method: r.method, path, body: seenBody };
  });

interface Resp {
  status: number;
  /** [lower-case name, value], in the order sent. */
  headers: Array<[string, string]>;
  body: string;
}

/** Writes `chunks` on one connection (each its own write, a macrotask apart) and reads `n` complete responses. */
async function exchange(port: number, chunks: Buffer[], n: number, timeoutMs = 3000): Promise<Resp[]> {
  const r = await raw(port, chunks, { responses: n, yieldBetween: true, timeoutMs });
  if (r.malformed !== null) throw new Error(`malformed response (${r.malformed}): ${JSON.stringify(r.text.slice(0, 400))}`);
  if (r.responses < n) throw new Error(`${r.closed ? "closed early" : "timed out"} with ${JSON.stringify(r.text.slice(0, 400))}`);
  return parseResponses(r.text).map((p) => {
    if (!/^HTTP\/1\.1 \d{3} /.test(p.statusLine)) throw new Error(`bad status line ${JSON.stringify(p.statusLine)}`);
    // Every response here is framed by its length (Content-Length or chunked), never by the close.
    if (p.headers["content-length"] === undefined && p.headers["transfer-encoding"] === undefined) throw new Error("a response without Content-Length or chunked framing");
    return { status: p.status, headers: p.fields.map(([k, v]): [string, string] => [k.toLowerCase(), v]), body: p.body };
  });
}

/** At most about `max` cut points (a byte-by-byte split of a 100 KiB body would be 100k writes). */
function thin(cuts: number[], max: number): number[] {
  if (cuts.length <= max) return cuts;
  const step = Math.ceil(cuts.length / max);
  return cuts.filter((_, i) => i % step === 0);
}

const comparable = (r: Resp): Resp => ({ ...r, headers: r.headers.filter(([k]) => k !== "date") });

describe("property: pipelined requests over a real socket", { timeout: 40_000 }, () => {
  let s: TestServer;
  before(async () => {
    s = await startServer(async (req) => {
      const body = Buffer.from(await req.arrayBuffer());
      return Response.json({ method: req.method, url: req.url, headers: [...req.headers], body: body.toString("base64") });
    });
  });
  after(async () => {
    await s.close();
  });

  test("1-8 requests pipelined in random splits get in-order responses, each as the same request alone", async () => {
    const arb = fc.array(wireRequest, { minLength: 1, maxLength: 8 }).chain((reqs) => {
      const all = Buffer.concat(reqs.map((r) => r.bytes));
      return fc.tuple(fc.constant(reqs), fc.constant(all), splitsOf(all.length).map((c) => thin(c, 2000)));
    });
    await fc.assert(
      fc.asyncProperty(arb, async ([reqs, all, cuts]) => {
        const alone: Resp[] = [];
        for (const r of reqs) {
          const [res] = await exchange(s.port, [r.bytes], 1);
          alone.push(res!);
        }
        const piped = await exchange(s.port, split(all, cuts), reqs.length);
        assert.equal(piped.length, reqs.length, "exactly one response per request");
        for (let i = 0; i < reqs.length; i++) {
          const r = reqs[i]!;
          const res = piped[i]!;
          assert.equal(res.status, 200, res.body);
          const echo = JSON.parse(Buffer.from(res.body, "latin1").toString("utf8")) as { method: string; url: string; body: string };
          assert.equal(echo.method, r.method);
          // Compared after WHATWG parsing: whether req.url itself is normalized is checked by the test below.
          assert.equal(new URL(echo.url).href, new URL(r.path, "http://prop.test").href);
          assert.equal(Buffer.from(echo.body, "base64").toString("hex"), r.body.toString("hex"));
          assert.deepEqual(comparable(res), comparable(alone[i]!));
        }
      }),
      { numRuns: 25, interruptAfterTimeLimit: 15_000, markInterruptAsFailure: true },
    );
  });

  test("the echoed request.url is the WHATWG-serialized URL (as Request.url always is)", async () => {
    for (const path of ["/.", "/a/../b", "/x/./y/", "/%7e?q=1"]) {
      const [res] = await exchange(s.port, [Buffer.from(`GET ${path} HTTP/1.1\r\nHost: prop.test\r\n\r\n`)], 1);
      const echo = JSON.parse(Buffer.from(res!.body, "latin1").toString("utf8")) as { url: string };
      assert.equal(echo.url, new URL(path, "http://prop.test").href, `request.url for ${path}`);
    }
  });
});
