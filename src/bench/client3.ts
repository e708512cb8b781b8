/**
 * client3 mode, after the client3.py of the "Let's Build A Web Server" articles: N clients at once, each opening M connections one after another
 * (connect, send one request, next), all held open for --hold seconds once every connection was tried, then
 * closed. Unlike client3.py it reads the replies, so it can say how many connections were actually served.
 *
 * Each connection ends in exactly one connect outcome (connected, refused, timed out, reset, other) and, if it
 * connected, exactly one reply outcome (responded, malformed, closed, reset, no response by the end, other).
 */
import net from "node:net";
import type { Client3Options } from "./args.ts";
import { errorKind } from "./client.ts";
import { ResponseParser } from "./parser.ts";
import { REFUSED, RESET, TIMEOUT } from "./stats.ts";

/** What `oryx bench --json` prints in client3 mode. */
export interface Client3Report {
  mode: "client3";
  url: string;
  clients: number;
  connsPerClient: number;
  holdSeconds: number;
  /** Longest a connect may take (--timeout). */
  timeoutSeconds: number;
  /** Always true: unlike client3.py, replies are read. */
  repliesRead: true;
  /** clients × connsPerClient. */
  attempted: number;
  /** How the connects ended; sums to attempted. */
  connect: { connected: number; refused: number; timedOut: number; reset: number; other: number };
  /** How the connected ones ended; sums to connect.connected. */
  replies: {
    /** A complete, well-formed response arrived. */
    responded: number;
    malformed: number;
    /** The server closed the connection without a response. */
    closed: number;
    reset: number;
    /** Still waiting when the hold ended. */
    noResponse: number;
    other: number;
  };
  /** Status code → responses. */
  status: Record<string, number>;
  /** The message of one "other" error, or null. */
  otherError: string | null;
}

type ReplyOutcome = keyof Client3Report["replies"];

export async function runClient3(opts: Client3Options, address: string, request: Buffer): Promise<Client3Report> {
  const report: Client3Report = {
    mode: "client3",
    url: opts.target.url,
    clients: opts.maxClients,
    connsPerClient: opts.maxConns,
    holdSeconds: opts.hold,
    timeoutSeconds: opts.timeout,
    repliesRead: true,
    attempted: opts.maxClients * opts.maxConns,
    connect: { connected: 0, refused: 0, timedOut: 0, reset: 0, other: 0 },
    replies: { responded: 0, malformed: 0, closed: 0, reset: 0, noResponse: 0, other: 0 },
    status: {},
    otherError: null,
  };
  const open: net.Socket[] = [];
  /** Connections whose reply outcome is still open. */
  const pending = new Set<net.Socket>();
  const noteOther = (err: NodeJS.ErrnoException): void => {
    report.otherError ??= `${err.code ?? ""} ${err.message}`.trim();
  };

  /** One connection: resolves once it connected or failed; the reply is followed after that. */
  const connectOne = (): Promise<void> =>
    new Promise((resolve) => {
      const sock = net.connect({ host: address, port: opts.target.port });
      open.push(sock);
      let connected = false;
      let settled = false;
      const end = (outcome: ReplyOutcome): void => {
        if (!pending.delete(sock)) return;
        report.replies[outcome]++;
      };
      const timer = setTimeout(() => {
        if (connected) return;
        report.connect.timedOut++;
        sock.destroy();
        resolve();
      }, opts.timeout * 1000);
      const parser = new ResponseParser((status) => {
        if (settled) return;
        settled = true;
        report.status[status] = (report.status[status] ?? 0) + 1;
        end("responded");
      });
      parser.headRequests = opts.request.method === "HEAD";
      sock.on("connect", () => {
        connected = true;
        clearTimeout(timer);
        report.connect.connected++;
        pending.add(sock);
        sock.write(request);
        resolve();
      });
      sock.on("data", (d: Buffer) => {
        if (settled) return;
        if (!parser.feed(d, 0, d.length)) {
          settled = true;
          end("malformed");
        }
      });
      sock.on("end", () => {
        if (settled) return;
        const r = parser.finish();
        settled = true;
        if (r === "truncated") end("malformed");
        else if (r === "idle") end("closed");
      });
      sock.on("error", (err: NodeJS.ErrnoException) => {
        const kind = errorKind(err);
        if (!connected) {
          clearTimeout(timer);
          if (kind === REFUSED) report.connect.refused++;
          else if (kind === RESET) report.connect.reset++;
          else if (kind === TIMEOUT) report.connect.timedOut++;
          else {
            report.connect.other++;
            noteOther(err);
          }
          resolve();
          return;
        }
        if (settled) return;
        settled = true;
        if (kind === RESET) end("reset");
        else {
          noteOther(err);
          end("other");
        }
      });
    });

  const clients = Array.from({ length: opts.maxClients }, async () => {
    for (let j = 0; j < opts.maxConns; j++) await connectOne();
  });
  await Promise.all(clients);
  if (opts.hold > 0) await new Promise((r) => setTimeout(r, opts.hold * 1000));
  report.replies.noResponse += pending.size;
  pending.clear();
  for (const s of open) s.destroy();
  return report;
}

export function formatClient3(r: Client3Report): string {
  const c = r.connect;
  const p = r.replies;
  const status = Object.entries(r.status).map(([s, n]) => `${s} × ${n}`);
  return [
    `oryx bench client3 mode: ${r.clients} client${r.clients === 1 ? "" : "s"} × ${r.connsPerClient} connection${r.connsPerClient === 1 ? "" : "s"} to ${r.url}, one request each, held ${r.holdSeconds} s, replies read`,
    `  connect     ${r.attempted} attempted: ${c.connected} connected, ${c.refused} refused, ${c.timedOut} timed out, ${c.reset} reset, ${c.other} other`,
    `  replies     ${p.responded} responded, ${p.noResponse} no response by the end, ${p.closed} closed unanswered, ${p.reset} reset, ${p.malformed} malformed, ${p.other} other`,
    `  status      ${status.length > 0 ? status.join(", ") : "none"}`,
    ...(r.otherError !== null ? [`  other       ${r.otherError}`] : []),
    "",
  ].join("\n");
}
