/**
 * GraphQL Yoga (test/compat/apps/yoga.js) under oryx with two workers, compared with node:http serving the same
 * `yoga` object as its listener (Yoga's Node.js integration): GraphQL over GET and POST (JSON), variables, a
 * mutation, errors, GraphQL over SSE, CORS, GraphiQL for a browser, and paths Yoga does not serve.
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import { compatSuite, json, stopAll, type Case } from "./harness.ts";

after(() => stopAll());

const post = (name: string, body: unknown, extra: Partial<Case> = {}): Case => ({
  name,
  method: "POST",
  path: "/graphql",
  headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json", ...extra.headers },
  body: JSON.stringify(body),
  ...extra,
});

const cases: Case[] = [
  {
    name: "GET /graphql?query={hello}",
    path: `/graphql?query=${encodeURIComponent("{ hello }")}`,
    expect: (r) => assert.deepEqual(json(r), { data: { hello: "Hello, world!" } }),
  },
  post("POST a query with variables", { query: "query ($n: String) { hello(name: $n) todos { id text done } }", variables: { n: "oryx" } }, {
    expect: (r) => assert.deepEqual(json(r), { data: { hello: "Hello, oryx!", todos: [{ id: "1", text: "write the suite", done: true }] } }),
  }),
  post("POST a mutation", { query: 'mutation { addTodo(text: "from the suite") { id text done } }' }, {
    expect: (r) => assert.deepEqual(json(r), { data: { addTodo: { id: "new", text: "from the suite", done: false } } }),
  }),
  post("a resolver that throws: a masked error in errors[]", { query: "{ fails }" }, {
    expect: (r) => assert.equal((json(r) as { data: unknown }).data !== undefined, true),
  }),
  post("a syntax error: GRAPHQL_PARSE_FAILED", { query: "{ hello" }, { expect: (r) => assert.match(r.body.toString(), /GRAPHQL_PARSE_FAILED/) }),
  post("an unknown field: a validation error", { query: "{ nope }" }, { expect: (r) => assert.match(r.body.toString(), /Cannot query field/) }),
  {
    name: "a mutation over GET is refused (405)",
    path: `/graphql?query=${encodeURIComponent('mutation { addTodo(text: "x") { id } }')}`,
    headers: { accept: "application/graphql-response+json" },
    compareHeaders: ["allow"],
    expect: (r) => assert.equal(r.status, 405),
  },
  post("a body that is not JSON", {}, { body: "{not json", expect: (r) => assert.ok(r.status >= 400) }),
  post(
    "GraphQL over SSE (Accept: text/event-stream): a streamed answer",
    { query: "{ hello }" },
    {
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      compareHeaders: ["cache-control"],
      expect: (r, _port, who) => {
        assert.match(r.headers.get("content-type") ?? "", /^text\/event-stream/, who);
        assert.match(r.body.toString(), /event: next\ndata: \{"data":\{"hello":"Hello, world!"\}\}\n\n/, who);
      },
    },
  ),
  {
    name: "CORS preflight (Yoga allows any origin by default)",
    method: "OPTIONS",
    path: "/graphql",
    headers: { origin: "http://example.com", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    compareHeaders: ["vary"],
    expect: (r) => assert.equal(r.status, 204),
  },
  post("CORS headers on a cross-origin POST", { query: "{ hello }" }, { headers: { origin: "http://example.com" }, compareHeaders: ["vary"] }),
  {
    name: "GraphiQL for a browser's GET (Accept: text/html)",
    path: "/graphql",
    headers: { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" },
    expect: (r, _port, who) => {
      assert.equal(r.status, 200, who);
      assert.match(r.headers.get("content-type") ?? "", /^text\/html/, who);
      assert.match(r.body.toString(), /GraphiQL|graphiql/, who);
    },
  },
  {
    name: "another path, from a browser: Yoga's landing page",
    path: "/elsewhere",
    headers: { accept: "text/html" },
    expect: (r) => assert.match(r.headers.get("content-type") ?? "", /^text\/html/),
  },
  { name: "another path, from a client: 404", path: "/elsewhere", expect: (r) => assert.equal(r.status, 404) },
  { name: "HEAD /graphql", method: "HEAD", path: "/graphql", raw: true },
];

compatSuite("GraphQL Yoga: oryx (2 workers) vs node:http with yoga as the listener", { app: "yoga.js", usual: "node" }, cases);
