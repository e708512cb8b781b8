/**
 * A plain fetch app that answers with every kind of Response body and origin: the static constructors
 * (redirect, json, error), clones, a fetch() of another route passed through, a subclass, every body type the
 * Fetch standard knows, null bodies, several Set-Cookie fields, a custom status text, and things that are not a
 * Response at all. Served by oryx and by srvx (test/compat/responses.test.ts).
 */
import { FastResponse } from "srvx";

class MyResponse extends Response {}

// @whatwg-node/fetch's PonyfillResponse: what GraphQL Yoga and other @whatwg-node/server apps answer with on Node
// (its own class, not a subclass of the global Response). Imported by a name held in a variable so its type
// declarations, which pull in the DOM library, stay out of `npm run typecheck`.
interface PonyfillFetch {
  Response: { new (body?: unknown, init?: ResponseInit): Response; json(data: unknown, init?: ResponseInit): Response };
  ReadableStream: typeof ReadableStream;
}
const WHATWG_NODE_FETCH = "@whatwg-node/fetch";
const ponyfill = (await import(WHATWG_NODE_FETCH)) as PonyfillFetch;

const encoder = new TextEncoder();

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i === chunks.length) {
        controller.close();
        return;
      }
      // A real pause between chunks, so each is its own read.
      await new Promise((r) => setTimeout(r, 5));
      controller.enqueue(encoder.encode(chunks[i++]!));
    },
  });
}

/** 1 MiB of a repeating, position-dependent pattern (a cut or reordered chunk shows). */
function big(): Uint8Array {
  const b = new Uint8Array(1024 * 1024);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + (i >> 10)) & 0xff;
  return b;
}

function formData(): FormData {
  const f = new FormData();
  f.append("name", "oryx");
  f.append("file", new Blob(["file contents\n"], { type: "text/plain" }), "a.txt");
  return f;
}

function cookies(): Headers {
  const h = new Headers({ "x-kind": "cookies" });
  h.append("set-cookie", "a=1; Path=/");
  h.append("set-cookie", "b=2; Path=/; HttpOnly");
  h.append("set-cookie", "c=3; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/");
  return h;
}

/** Every kind of body, by name, made fresh for each request. */
const bodies: Record<string, () => Response> = {
  string: () => new Response("a string body", { headers: { "x-kind": "string" } }),
  utf8: () => new Response("héllo wörld ✓ — ünïcode", { headers: { "content-type": "text/plain; charset=utf-8" } }),
  uint8array: () => new Response(new Uint8Array([0, 1, 2, 3, 250, 255]), { headers: { "content-type": "application/octet-stream" } }),
  // A view into the middle of a larger buffer: only the view's bytes are the body.
  subarray: () => new Response(new Uint8Array([9, 9, 104, 105, 9]).subarray(2, 4)),
  arraybuffer: () => new Response(encoder.encode("an ArrayBuffer").buffer as ArrayBuffer),
  dataview: () => {
    const bytes = encoder.encode("xxa DataViewxx");
    return new Response(new DataView(bytes.buffer, 2, bytes.length - 4));
  },
  blob: () => new Response(new Blob(["<svg/>"], { type: "image/svg+xml" })),
  "blob-untyped": () => new Response(new Blob(["no type"])),
  formdata: () => new Response(formData()),
  urlsearchparams: () => new Response(new URLSearchParams({ a: "1", b: "two words", c: "ü" })),
  stream: () => new Response(streamOf(["chunk 1\n", "chunk 2\n", "chunk 3\n"]), { headers: { "content-type": "text/plain" } }),
  "stream-bytes": () =>
    new Response(
      new ReadableStream({
        type: "bytes",
        start(controller) {
          controller.enqueue(encoder.encode("byte "));
          controller.enqueue(encoder.encode("stream"));
          controller.close();
        },
      }),
    ),
  "stream-error": () =>
    new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          controller.enqueue(encoder.encode("a first chunk, then the stream fails\n"));
          await new Promise((r) => setTimeout(r, 20));
          controller.error(new Error("the stream failed"));
        },
      }),
    ),
  "stream-empty": () => new Response(streamOf([]), { headers: { "x-kind": "empty stream" } }),
  "null-204": () => new Response(null, { status: 204, headers: { "x-kind": "null" } }),
  "null-200": () => new Response(null, { headers: { "x-kind": "null" } }),
  "empty-string": () => new Response(""),
  "not-modified": () => new Response(null, { status: 304, headers: { etag: '"v1"' } }),
};

/**
 * Answers made without a promise: `/sync/...` returns them from fetch() itself, not from an async function, so a
 * server sees the Response (or the throw) synchronously.
 */
const sync: Record<string, (req: Request) => Response> = {
  "/redirect": (req) => Response.redirect(new URL("/x", req.url), 302),
  "/json": () => Response.json({ sync: true }, { status: 201, headers: { "x-kind": "json" } }),
  "/clone": () => new Response("a sync clone").clone(),
  "/subclass": () => new MyResponse("a sync subclass"),
  "/cookies": () => new Response("sync cookies", { headers: cookies() }),
  "/status-text": () => new Response("sync teapot", { status: 418, statusText: "I'm a teapot" }),
  "/origin/srvx": () => new FastResponse("a sync FastResponse"),
  "/origin/ponyfill": () => new ponyfill.Response("a sync PonyfillResponse", { headers: { "x-kind": "ponyfill" } }),
  "/error-response": () => Response.error(),
  "/plain-object": () => ({ status: 200 }) as unknown as Response,
  "/throw": () => {
    throw new Error("a sync throw");
  },
};
for (const [name, make] of Object.entries(bodies)) sync[`/body/${name}`] = make;

export default {
  fetch(req: Request): Response | Promise<Response> {
    const p = new URL(req.url).pathname;
    if (p.startsWith("/sync/")) {
      const make = sync[p.slice("/sync".length)];
      if (make) return make(req);
    }
    return answer(req);
  },
};

async function answer(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const p = url.pathname;

  if (p === "/") return new Response("ok");
  if (p.startsWith("/body/")) {
    const make = bodies[p.slice("/body/".length)];
    if (make) return make();
  }
  switch (p) {
    case "/redirect-301":
      return Response.redirect(new URL("/x", req.url), 301);
    case "/redirect":
      // No status: 302, the Fetch standard's default (@types/node 20 declares the argument required).
      return (Response.redirect as (url: string | URL, status?: number) => Response)(new URL("/x?from=redirect", req.url));
    case "/redirect-absolute":
      return Response.redirect("https://example.com/elsewhere", 307);
    case "/json":
      return Response.json({ ok: true, list: [1, "two", null], nested: { a: "é" } }, { status: 201, headers: { "x-kind": "json" } });
    case "/json-headers":
      return Response.json({ ok: true }, { headers: new Headers({ "X-Kind": "json with a Headers object", "Cache-Control": "no-store" }) });
    case "/json-own-type":
      return Response.json({ ok: true }, { headers: { "content-type": "application/problem+json" } });
    case "/clone":
      return new Response("the clone's body", { status: 202, headers: { "x-kind": "clone" } }).clone();
    case "/clone-of-read": {
      // The original is read to the end; its clone still holds the whole body.
      const original = new Response("read twice", { headers: { "x-kind": "clone of a read response" } });
      const copy = original.clone();
      await original.text();
      return copy;
    }
    case "/original-after-clone-read": {
      const original = new Response("the original", { headers: { "x-kind": "original" } });
      await original.clone().text();
      return original;
    }
    case "/clone-stream":
      return new Response(streamOf(["s1 ", "s2 ", "s3"])).clone();
    case "/upstream": {
      const h = new Headers({ "content-type": "text/plain; charset=utf-8", "x-upstream": "yes" });
      h.append("set-cookie", "up1=a; Path=/");
      h.append("set-cookie", "up2=b; Path=/; Secure");
      return new Response("from upstream", { status: 203, statusText: "Upstream Info", headers: h });
    }
    case "/proxy":
      return fetch(new URL("/upstream", req.url));
    case "/proxy-stream":
      return fetch(new URL("/body/stream", req.url));
    case "/proxy-json":
      return fetch(new URL("/json", req.url));
    case "/proxy-redirect":
      return fetch(new URL("/redirect", req.url), { redirect: "manual" });
    case "/origin/srvx":
      // srvx's FastResponse (h3 answers with it on Node): a Response-alike that only srvx's own writer reads fast.
      return new FastResponse("from srvx's FastResponse", { headers: { "x-kind": "srvx" } });
    case "/origin/srvx-json":
      return FastResponse.json({ from: "FastResponse.json" }, { status: 201 });
    case "/origin/srvx-bytes":
      return new FastResponse(new Uint8Array([1, 2, 3, 4]), { headers: { "content-type": "application/octet-stream" } });
    case "/origin/srvx-stream":
      return new FastResponse(streamOf(["fast ", "stream"]));
    case "/origin/ponyfill": {
      const h = new Headers({ "x-kind": "ponyfill", "content-type": "text/plain; charset=utf-8" });
      h.append("set-cookie", "p1=1");
      h.append("set-cookie", "p2=2");
      return new ponyfill.Response("from @whatwg-node's PonyfillResponse", { status: 202, statusText: "Pony Accepted", headers: h });
    }
    case "/origin/ponyfill-json":
      return ponyfill.Response.json({ from: "PonyfillResponse.json" }, { headers: { "x-kind": "ponyfill json" } });
    case "/origin/ponyfill-stream": {
      let n = 0;
      const body = new ponyfill.ReadableStream({
        pull(controller) {
          if (n === 3) controller.close();
          else controller.enqueue(encoder.encode(`pony ${++n}\n`));
        },
      });
      return new ponyfill.Response(body, { headers: { "content-type": "text/plain" } });
    }
    case "/error-response":
      return Response.error();
    case "/subclass":
      return new MyResponse("from a subclass", { headers: { "x-kind": "subclass" } });
    case "/cookies":
      return new Response("cookies", { headers: cookies() });
    case "/cookies-array":
      return new Response("cookies from an array", {
        headers: [
          ["set-cookie", "k1=v1"],
          ["set-cookie", "k2=v2; Max-Age=60"],
          ["x-kind", "array"],
        ],
      });
    case "/status-text":
      return new Response("short and stout", { status: 418, statusText: "I'm a teapot" });
    case "/status-text-200":
      return new Response("fine", { status: 200, statusText: "Fine Thanks" });
    case "/status-599":
      return new Response("odd status", { status: 599 });
    case "/headers-mixed":
      return new Response("h", { headers: new Headers([["X-Mixed-Case", "  padded value  "], ["X-Repeated", "1"], ["X-Repeated", "2"]]) });
    case "/own-length":
      // The app states the length itself.
      return new Response("abc", { headers: { "content-length": "3" } });
    case "/stream-own-length":
      return new Response(streamOf(["12345", "67890"]), { headers: { "content-length": "10" } });
    case "/own-transfer-encoding":
      return new Response("the app said chunked", { headers: { "transfer-encoding": "chunked" } });
    case "/big-bytes":
      return new Response(big(), { headers: { "content-type": "application/octet-stream" } });
    case "/big-stream": {
      const data = big();
      let at = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (at >= data.length) return controller.close();
            controller.enqueue(data.subarray(at, at + 65536));
            at += 65536;
          },
        }),
        { headers: { "content-type": "application/octet-stream" } },
      );
    }
    case "/header-latin1":
      // A ByteString value with a char above U+007F (é, one latin1 byte on the wire).
      return new Response("latin1 header", { headers: { "x-latin1": "caf\u00e9" } });
    case "/status-text-latin1":
      return new Response("latin1 reason", { status: 200, statusText: "D\u00e9j\u00e0 Vu" });
    case "/body-used": {
      const used = new Response("read already");
      await used.text();
      return used;
    }
    case "/body-locked": {
      const locked = new Response(streamOf(["never sent"]));
      locked.body!.getReader();
      return locked;
    }
    case "/mutated-headers": {
      const r = new Response("mutated", { headers: { "x-before": "1" } });
      r.headers.set("x-after", "2");
      r.headers.delete("x-before");
      return r;
    }
    case "/echo": {
      const body = (await req.json()) as unknown;
      return Response.json({ method: req.method, got: body, type: req.headers.get("content-type") });
    }
    case "/instanceof": {
      const upstream = await fetch(new URL("/upstream", req.url));
      const kinds: Record<string, Response> = {
        "Response.redirect": Response.redirect(new URL("/x", req.url), 301),
        "Response.json": Response.json({ a: 1 }),
        "Response.error": Response.error(),
        "new Response()": new Response(),
        "clone()": new Response("x").clone(),
        subclass: new MyResponse("x"),
        "fetch()": upstream,
        "fetch().clone()": upstream.clone(),
      };
      for (const [name, make] of Object.entries(bodies)) kinds[`body ${name}`] = make();
      const out: Record<string, boolean> = {};
      for (const [name, r] of Object.entries(kinds)) out[name] = r instanceof Response;
      // Not awaited: cancelling one branch of a tee (a clone's) settles only once the other branch is cancelled too.
      for (const r of Object.values(kinds)) r.body?.cancel().catch(() => {});
      return Response.json(out);
    }
    case "/plain-object":
      return { status: 200, body: "not a Response" } as unknown as Response;
    case "/undefined":
      return undefined as unknown as Response;
    case "/throw":
      throw new Error("boom");
    case "/reject":
      return Promise.reject(new TypeError("rejected"));
  }
  return new Response(`no route for ${p}`, { status: 404, headers: { "x-kind": "not found" } });
}
