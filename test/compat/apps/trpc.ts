/**
 * A tRPC v11 router served with its fetch adapter, as trpc.io's "Fetch / Edge Runtimes" page shows:
 * `fetchRequestHandler({ endpoint, req, router, createContext })` inside a fetch handler. A query with input, a
 * query without, a mutation, a procedure that throws a TRPCError, and batching (clients call it with tRPC's
 * HTTP wire format: GET /trpc/name?input=..., POST /trpc/name with a JSON body, `?batch=1`). Usual server: srvx.
 */
import { TRPCError, initTRPC } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";

const createContext = ({ req, resHeaders }: { req: Request; resHeaders: Headers }) => {
  resHeaders.set("x-trpc-context", "yes");
  return { agent: req.headers.get("user-agent") ?? "" };
};

const t = initTRPC.context<typeof createContext>().create();

const appRouter = t.router({
  greeting: t.procedure.input((v: unknown) => {
    if (typeof v !== "object" || v === null || typeof (v as { name?: unknown }).name !== "string") throw new Error("name must be a string");
    return v as { name: string };
  }).query(({ input }) => ({ text: `Hello, ${input.name}!` })),
  list: t.procedure.query(() => [1, 2, 3]),
  add: t.procedure
    .input((v: unknown) => v as { a: number; b: number })
    .mutation(({ input }) => ({ sum: input.a + input.b })),
  secret: t.procedure.query(() => {
    throw new TRPCError({ code: "UNAUTHORIZED", message: "no entry" });
  }),
  crash: t.procedure.query(() => {
    throw new Error("an unexpected failure");
  }),
});

export type AppRouter = typeof appRouter;

export default {
  async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname.startsWith("/trpc")) {
      return fetchRequestHandler({ endpoint: "/trpc", req, router: appRouter, createContext });
    }
    return new Response("not found", { status: 404 });
  },
};
