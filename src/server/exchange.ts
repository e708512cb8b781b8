/**
 * One request and its response on a connection, as the gateway sees it (the Exchange interface): the request's
 * facts (who, which scheme and host, after a trusted proxy's say), its body (see ExchangeBody), and the response,
 * whole or streamed, framed as http/framing.ts decides. Every method is a no-op once the exchange is finished, so
 * an app holding on to a stale request can never write into the next one.
 */
import type { AsciiText, BodySink, Exchange, RequestBody } from "../gateway/exchange.ts";
import { ConnectionInfo } from "../gateway/info.ts";
import {
  LAST_CHUNK,
  type ChunkedDecoder,
  NO_BODY,
  STREAMED,
  bodyOnWire,
  chunkHeader,
  framedLength,
  responseFraming,
  simpleResponse,
  takeAppFraming,
  type RequestHead,
  type AppFraming,
  type ResponseFraming,
} from "../http/index.ts";
import type { WsContext } from "../ws/context.ts";
import type { UpgradeHost, Upgraded } from "../ws/endpoint.ts";
import { decoderFor, deliverBody, discardBody, failBody, resumeBody, startBody, type BodyState } from "./body-flow.ts";
import type { Connection } from "./connection.ts";
import { readForwarded } from "./forwarded.ts";
import { ResponseError } from "../errors.ts";

export class ConnExchange implements Exchange, BodyState {
  readonly head: RequestHead;
  readonly info: ConnectionInfo;
  readonly scheme: "http" | "https";
  readonly forwardedHost: string | null = null;
  readonly body: RequestBody | null;
  /** When the request arrived (for the access log; 0 without one, which saves a clock read per request). */
  readonly startedAt: number;
  readonly decoder: ChunkedDecoder | null;
  readonly deliverFn: (chunk: Buffer) => void;
  onAbort: ((reason: Error) => void) | null = null;
  aborted = false;
  /** Bytes of a Content-Length body not yet received. */
  remaining: number;
  bodyDone: boolean;
  sink: BodySink | null = null;
  flowing = false;
  discarding = false;
  continueSent = false;
  drainedBytes = 0;
  headWritten = false;
  finished = false;
  keepAlive = false;
  appSaysClose = false;
  appHasDate = false;
  status = 0;
  bytes = 0;
  private framing: ResponseFraming = "none";
  private declared = -1;
  private written = 0;
  private isHead: boolean;
  readonly conn: Connection;

  constructor(conn: Connection, head: RequestHead) {
    this.conn = conn;
    this.head = head;
    this.startedAt = 0;
    if (conn.opts.onAccess !== null) {
      this.startedAt = Date.now();
      // The access log names the client even if the connection is gone by then: ask now, while the socket can
      // answer (it keeps the answer).
      void conn.info.remoteAddress;
    }
    this.info = conn.info;
    this.scheme = conn.origin.secure ? "https" : "http";
    const peers = conn.origin.trustedPeers;
    if (peers !== null) {
      // From a trusted proxy: the client, scheme and host it names are the request's (for this request only:
      // a proxy's kept-alive connection carries many clients' requests). Whether the peer is trusted is asked
      // only of requests that carry such headers.
      const view = readForwarded(head.headers, peers);
      if (view !== null && conn.trustsPeer()) {
        if (view.client !== null) {
          this.info = ConnectionInfo.ofForwarded(view.client.address, view.client.port, conn.info);
        }
        if (view.scheme !== null) this.scheme = view.scheme;
        this.forwardedHost = view.host;
      }
    }
    this.isHead = head.method === "HEAD";
    this.remaining = head.framing === "length" ? head.contentLength : 0;
    this.bodyDone = head.framing === "none";
    this.decoder = decoderFor(head, conn.opts.limits);
    this.body = this.bodyDone ? null : this;
    this.deliverFn = this.decoder === null ? noDeliver : (chunk) => this.deliver(chunk);
  }

  // ─── the request body (body-flow.ts) ──

  get length(): number | null {
    return this.head.framing === "length" ? this.head.contentLength : null;
  }

  start(sink: BodySink): void {
    startBody(this, sink);
  }

  resume(): void {
    resumeBody(this);
  }

  discard(): void {
    discardBody(this);
  }

  deliver(chunk: Buffer): void {
    deliverBody(this, chunk);
  }

  failBody(err: Error): void {
    failBody(this, err);
  }

  // ─── the exchange ──

  get closed(): boolean {
    return this.finished;
  }

  /** What this server's WebSockets share, or null when it takes none. */
  get websocket(): WsContext | null {
    return this.conn.opts.websocket ?? null;
  }

  upgrade<E extends Upgraded>(head: string, make: (host: UpgradeHost) => E): E | null {
    return this.conn.upgrade(this, head, make);
  }

  abort(reason: Error): void {
    this.aborted = true;
    const cb = this.onAbort;
    this.onAbort = null;
    if (cb !== null) {
      try {
        cb(reason);
      } catch (err) {
        this.conn.logError("an abort listener threw", err);
      }
    }
  }

  // ─── response ──

  /** The app's framing-related fields were taken out of its headers (see takeAppFraming): note what they said. */
  private useAppFraming(t: AppFraming, length: number): string[] {
    if (t.close) this.appSaysClose = true;
    if (t.date) this.appHasDate = true;
    this.declared = length >= 0 ? length : t.length;
    return t.headers;
  }

  respond(status: number, reason: string, headers: string[], body: Uint8Array | AsciiText | null, length = -1): void {
    if (this.finished || this.headWritten) return;
    this.headWritten = true;
    const t = takeAppFraming(headers);
    if (t === null) this.declared = length >= 0 ? length : -1;
    const clean = t === null ? headers : this.useAppFraming(t, length);
    const whole = body === null ? NO_BODY : body.length;
    const framing = responseFraming(this.isHead, this.head.versionMinor, status, this.declared, whole);
    const len = framedLength(this.isHead, status, this.declared, whole);
    this.conn.writeHead(this, status, reason, clean, framing, len, bodyOnWire(this.isHead, status) ? body : null);
    this.conn.finishExchange(this);
  }

  begin(status: number, reason: string, headers: string[], length: number): void {
    if (this.finished || this.headWritten) return;
    this.headWritten = true;
    const t = takeAppFraming(headers);
    if (t === null) this.declared = length >= 0 ? length : -1;
    const clean = t === null ? headers : this.useAppFraming(t, length);
    const framing = responseFraming(this.isHead, this.head.versionMinor, status, this.declared, STREAMED);
    this.conn.writeHead(this, status, reason, clean, framing, framedLength(this.isHead, status, this.declared, STREAMED), null);
    this.framing = bodyOnWire(this.isHead, status) ? framing : "none";
  }

  write(chunk: Uint8Array): boolean {
    if (this.finished || !this.headWritten) return true;
    const n = chunk.length;
    if (n === 0) return true;
    switch (this.framing) {
      case "none":
        return true;
      case "length": {
        if (this.written + n > this.declared) {
          this.destroy(new ResponseError("ORYX_ERR_RESPONSE_LENGTH", `the app's response body is longer than its Content-Length (${this.declared})`));
          return true;
        }
        this.written += n;
        this.bytes += n;
        return this.conn.writeRaw(chunk);
      }
      case "chunked": {
        this.bytes += n;
        const socket = this.conn.socket;
        socket.cork();
        this.conn.writeRaw(chunkHeader(n));
        this.conn.writeRaw(chunk);
        const ok = this.conn.writeRaw("\r\n");
        socket.uncork();
        return ok;
      }
      case "close":
        this.bytes += n;
        return this.conn.writeRaw(chunk);
    }
  }

  drained(): Promise<void> {
    if (this.finished) return Promise.resolve();
    return this.conn.waitDrain();
  }

  end(): void {
    if (this.finished || !this.headWritten) return;
    if (this.framing === "chunked") this.conn.writeRaw(LAST_CHUNK);
    else if (this.framing === "length" && this.written !== this.declared) {
      this.destroy(new ResponseError("ORYX_ERR_RESPONSE_LENGTH", `the app's response body is shorter than its Content-Length (${this.declared})`));
      return;
    }
    if (this.framing === "close") this.keepAlive = false;
    this.conn.finishExchange(this);
  }

  destroy(err: Error): void {
    if (this.finished) return;
    this.conn.logError("a response was abandoned mid-way", err);
    this.finished = true;
    this.failBody(err);
    this.conn.socket.destroy();
  }

  fail(status: number, close = false): void {
    if (this.finished) return;
    if (this.headWritten) {
      this.destroy(new ResponseError("ORYX_ERR_RESPONSE_CUT", `failed after the response head was sent (would have been ${status})`));
      return;
    }
    if (close) this.appSaysClose = true;
    const body = Buffer.from(simpleBody(status));
    this.respond(status, "", ["content-type", "text/plain; charset=utf-8"], body);
  }
}

function noDeliver(): void {}

function simpleBody(status: number): string {
  // The same text simpleResponse uses: the reason phrase, nothing of the request, no stack.
  const s = simpleResponse(status, false, "");
  return s.slice(s.indexOf("\r\n\r\n") + 4);
}
