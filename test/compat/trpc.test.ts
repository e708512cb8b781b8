/**
 * tRPC v11's fetch adapter (test/compat/apps/trpc.ts) under oryx with two workers, compared with srvx, called
 * with plain fetch in tRPC's HTTP wire format (what @trpc/client's httpLink and httpBatchLink send).
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import { compatSuite, json, stillServes, stopAll, type Case } from "./harness.ts";

after(() => stopAll());

const input = (v: unknown): string => encodeURIComponent(JSON.stringify(v));

const cases: Case[] = [
  {
    name: "a query with input (GET ?input=)",
    path: `/trpc/greeting?input=${input({ name: "oryx" })}`,
    expect: (r, _port, who) => {
      assert.equal(r.status, 200, who);
      assert.deepEqual(json(r), { result: { data: { text: "Hello, oryx!" } } });
      assert.equal(r.headers.get("x-trpc-context"), "yes", `${who}: a header set through resHeaders`);
    },
  },
  { name: "a query without input", path: "/trpc/list", expect: (r) => assert.deepEqual(json(r), { result: { data: [1, 2, 3] } }) },
  {
    name: "a mutation (POST, JSON body)",
    method: "POST",
    path: "/trpc/add",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ a: 2, b: 40 }),
    expect: (r) => assert.deepEqual(json(r), { result: { data: { sum: 42 } } }),
  },
  {
    name: "a batch of two queries (?batch=1)",
    path: `/trpc/greeting,list?batch=1&input=${input({ 0: { name: "a" } })}`,
    expect: (r) => assert.deepEqual(json(r), [{ result: { data: { text: "Hello, a!" } } }, { result: { data: [1, 2, 3] } }]),
  },
  {
    name: "a batched mutation",
    method: "POST",
    path: "/trpc/add,add?batch=1",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ 0: { a: 1, b: 1 }, 1: { a: 2, b: 2 } }),
    expect: (r) => assert.deepEqual(json(r), [{ result: { data: { sum: 2 } } }, { result: { data: { sum: 4 } } }]),
  },
  {
    name: "streamed batching (trpc-accept: application/jsonl)",
    path: `/trpc/greeting,list?batch=1&input=${input({ 0: { name: "b" } })}`,
    headers: { "trpc-accept": "application/jsonl" },
    compareHeaders: ["vary"],
    expect: (r) => assert.match(r.body.toString(), /Hello, b!/),
  },
  {
    name: "a TRPCError UNAUTHORIZED: 401 with tRPC's error shape",
    path: "/trpc/secret",
    bodyAs: (b) => JSON.stringify((JSON.parse(b) as { error: { json?: unknown; message?: string; code?: number; data?: { code?: string } } }).error.data?.code),
    expect: (r) => {
      assert.equal(r.status, 401);
      assert.equal((json(r) as { error: { data: { code: string } } }).error.data.code, "UNAUTHORIZED");
    },
  },
  {
    name: "a thrown Error: 500 INTERNAL_SERVER_ERROR, and the server goes on",
    path: "/trpc/crash",
    bodyAs: (b) => JSON.stringify((JSON.parse(b) as { error: { data?: { code?: string } } }).error.data?.code),
    expect: async (r, port, who) => {
      assert.equal(r.status, 500, who);
      await stillServes(port, who, "/trpc/list");
    },
  },
  { name: "input that fails the parser: 400", path: `/trpc/greeting?input=${input({ name: 1 })}`, bodyAs: "ignore", expect: (r) => assert.equal(r.status, 400) },
  { name: "an unknown procedure: 404", path: "/trpc/nope", bodyAs: "ignore", expect: (r) => assert.equal(r.status, 404) },
  { name: "a query called with POST: 405", method: "POST", path: "/trpc/list", headers: { "content-type": "application/json" }, body: "{}", bodyAs: "ignore", expect: (r) => assert.equal(r.status, 405) },
  { name: "outside /trpc: the app's 404", path: "/elsewhere", expect: (r) => assert.equal(r.status, 404) },
];

compatSuite("tRPC v11 fetch adapter: oryx (2 workers) vs srvx", { app: "trpc.ts", usual: "srvx" }, cases);
