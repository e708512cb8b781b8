import dc from "node:diagnostics_channel";
import type http from "node:http";
import type net from "node:net";
import { ChunkedDecoder, HeadParser, HttpError, readFailed, simpleResponse, type Limits, type RequestHead, type RequestReader } from "../http/index.ts";
import type { Logger } from "../log.ts";
import { nodeRequestCalls, type NodeHttpParser, type NodeRequestCalls } from "../node-internals.ts";
import { READ_AHEAD_BYTES, ownBytes, readIntoShared, readIntoStream } from "./read-buffer.ts";

/**
 * oryx's parser in front of Node's. A Node app's http.Server parses with llhttp, which accepts what oryx refuses
 * (Transfer-Encoding on HTTP/1.0, `gzip, chunked`, two Host fields, HTTP/2.0 and HTTP/0.9 request lines, …): a
 * request smuggled past a front proxy that reads it the other way. So every byte of a handed-off socket goes
 * through oryx's own request parser first (HeadParser, ChunkedDecoder, the same limits and timeouts as fetch
 * apps), and only what it accepts reaches the http.Server's parser (below), which builds the app's real
 * IncomingMessage/ServerResponse, as ever. The socket is read
 * into one buffer shared by every screen (read-buffer.ts), as Node's parser reads its own sockets: what the
 * screen keeps past a read (a head split across reads, pipelined bytes that wait) it copies. A refusal is
 * oryx's answer, byte for byte as for a fetch app (status, Date, Content-Length, `Connection: close`), written
 * by oryx straight to the socket: Node's parser never sees the request, the app never hears of it, and nothing
 * after it on the connection is read.
 *
 * What Node is given is what oryx accepted, and parsed once. Node's parser is told of the request as llhttp
 * would tell it, with what oryx's parser found (node-internals.ts: nodeRequestCalls): the head (the fields as
 * sent, names as the client spelled them), the body as it comes (a chunked one decoded, few large pieces
 * whatever the client sent: 1-byte chunks cost Node a Buffer each, issue 18), its end and trailers. Node then
 * builds the app's IncomingMessage and ServerResponse and runs its listeners as ever. Parsing every head twice
 * cost Express about a tenth of its speed (issue 16). Where that cannot be (an upgrade or CONNECT, which Node
 * hands to the app with the socket; a method llhttp does not know; a Node whose parser is not as expected),
 * Node's parser gets the bytes instead, in the form llhttp reads the same way: the head as sent (bare LF line
 * ends made CRLF, copies of a Content-Length dropped), a chunked body framed anew.
 *
 * Requests reach Node one at a time, as on oryx's engine: the bytes of a pipelined request wait (the socket
 * paused) until the response before it is done, so a refusal never overtakes an answer and needs no second
 * response to be ordered behind the first.
 *
 * Over 500 lines on purpose: a screen is one state machine per socket (its phases, its timers, the body it
 * passes on, the refusal and the linger after it), and every transition of it is easiest to check in one place,
 * as the engine's connection.ts is. The shared read buffer is read-buffer.ts; the parsing is http/'s.
 */

/** The limits and timeouts oryx's engine applies to fetch apps, applied here to Node apps (from-settings.ts). */
export interface ScreenOptions {
  limits: Limits;
  /** Longest wait for a complete head: from accept for the first request, else from the head's first byte. */
  headerTimeoutMs: number;
  /** Longest a request body may stall while the app reads it. */
  bodyTimeoutMs: number;
  /** Server header of oryx's own answers ("" for none). */
  serverHeader: string;
}

/** After a refusal the connection is half-closed and read (discarded) this long once its last byte left, as on oryx's engine. */
const LINGER_MS = 2_000;
/** Framed chunk data shorter than this is copied next to its size line (one call into Node's parser, not three). */
const COPY_CHUNK_BELOW = 16 * 1024;
const CRLF = Buffer.from("\r\n", "latin1");

const enum Phase {
  /** Between requests: nothing of the next head yet. */
  Idle,
  /** Part of a head received (held here: Node has seen none of it). */
  Head,
  /** The head was given to Node; its body is being screened and passed on. */
  Body,
  /** The request was given whole; further bytes wait until its response is done. */
  Waiting,
  /** Refused or ending: input is read and discarded until the client closes or the linger ends. */
  Closing,
  /** The app took the socket (an upgrade, CONNECT): the screen is out of the way. */
  Detached,
}

const enum Timer {
  None,
  Header,
  Body,
  Linger,
}

const SCREEN = Symbol("oryx.screen");
type ScreenedSocket = net.Socket & { [SCREEN]?: Screen };

/** The screen of a socket, if oryx screens it. */
export function screenOf(socket: net.Socket): Screen | undefined {
  return (socket as ScreenedSocket)[SCREEN];
}

/**
 * A request and its response as Node made them, from Node's diagnostics channel (documented, Node ≥ 16.17):
 * published for every request Node's server parses, whatever listeners the app has (request, checkContinue),
 * whenever it added them. The screen of its socket learns of the response it waits for.
 */
interface RequestStart {
  request: http.IncomingMessage;
  response: http.ServerResponse;
  socket: net.Socket;
  server: http.Server;
}

type StartHook = (start: RequestStart) => void;
const startHooks = new WeakMap<http.Server, StartHook>();
let subscribed = false;

/**
 * Calls `hook` for every request `server` parses, before the app's listeners run (one hook per server); and tells
 * a socket's screen when a response is finished (Node's http.server.response.finish channel, published as Node
 * handles its 'finish'): no listener or closure per request.
 */
export function onRequestStart(server: http.Server, hook: StartHook): void {
  startHooks.set(server, hook);
  if (subscribed) return;
  subscribed = true;
  dc.subscribe("http.server.request.start", (message: unknown) => {
    const start = message as RequestStart;
    startHooks.get(start.server)?.(start);
  });
  dc.subscribe("http.server.response.finish", (message: unknown) => {
    const m = message as RequestStart;
    screenOf(m.socket)?.responseFinished(m.response);
  });
}

/** The screens of one http.Server, and their timeouts, checked together (as Node checks its own). */
export class Screens {
  readonly opts: ScreenOptions;
  readonly server: http.Server;
  readonly log: Logger;
  private readonly live = new Set<Screen>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(server: http.Server, opts: ScreenOptions, log: Logger) {
    this.server = server;
    this.opts = opts;
    this.log = log;
  }

  /**
   * Hands `socket` to the http.Server behind a screen. Node puts its listeners on the socket and starts reading
   * it straight into llhttp (parser.consume: no 'data' events); a 'data' listener added afterwards makes Node
   * read through JS again (its own wrapper of socket.on unconsumes), and taking Node's 'data' listener off the
   * socket leaves the screen the only way in.
   */
  take(socket: net.Socket): Screen {
    const dataBefore = socket.listeners("data");
    const endBefore = socket.listeners("end");
    this.server.emit("connection", socket);
    const nodeOnData = socket.listeners("data").find((l) => !dataBefore.includes(l)) as ((chunk: Buffer) => void) | undefined;
    const nodeOnEnd = socket.listeners("end").find((l) => !endBefore.includes(l)) as ((...args: unknown[]) => void) | undefined;
    if (nodeOnData === undefined || nodeOnEnd === undefined) {
      throw new ScreenError("NODE_INTERNALS", "the http.Server put no 'data' or 'end' listener on the socket it was handed (Node's http internals changed?)");
    }
    socket.removeListener("data", nodeOnData);
    const screen = new Screen(this, socket, nodeOnData, nodeOnEnd);
    this.live.add(screen);
    this.sweeper ??= this.startSweeper();
    return screen;
  }

  forget(screen: Screen): void {
    this.live.delete(screen);
  }

  /** One timer for every screen of the server, as often as the shortest timeout needs (at most every second). */
  private startSweeper(): NodeJS.Timeout {
    const every = Math.min(1000, Math.max(50, Math.floor(Math.min(this.opts.headerTimeoutMs, this.opts.bodyTimeoutMs) / 4)));
    const t = setInterval(() => {
      const now = Date.now();
      for (const s of this.live) s.check(now);
    }, every);
    t.unref();
    return t;
  }

  /** Stops the sweeper (the server is closed). */
  close(): void {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
  }
}

/** A screen failed to take a socket. */
export class ScreenError extends Error {
  readonly code: "NODE_INTERNALS";
  constructor(code: "NODE_INTERNALS", message: string) {
    super(message);
    this.name = "ScreenError";
    this.code = code;
  }
}

/** One handed-off connection's screen. */
export class Screen implements RequestReader {
  private readonly owner: Screens;
  readonly socket: net.Socket;
  private readonly nodeOnData: (chunk: Buffer) => void;
  private readonly nodeOnEnd: (...args: unknown[]) => void;
  private readonly parser: HeadParser;
  /** Node's parser of this socket, and how to tell it of a request oryx parsed (null: it gets bytes). */
  private readonly nodeParser: NodeHttpParser | null;
  private readonly calls: NodeRequestCalls | null;
  /** The request being passed on was told to Node's parser (not given as bytes). */
  private told = false;
  private phase = Phase.Idle;
  /** Bytes of the head so far when it spans reads (a slow client): kept to give Node the head as sent. */
  private headParts: Buffer[] | null = null;
  private headPartsLength = 0;
  /** Bytes received while the screen or Node's server waits (see Phase.Waiting, and Node pausing the socket). */
  private pending: Buffer | null = null;
  private inProcess = false;
  private remaining = 0;
  private decoder: ChunkedDecoder | null = null;
  private keepAlive = true;
  private upgrade = false;
  /** The response to the request being served, once Node made it; whether it is done (its 'close'). */
  private res: http.ServerResponse | null = null;
  private responseDone = false;
  private timer = Timer.None;
  private deadline = 0;
  /** Whether the socket is read into the shared buffer (read-buffer.ts), else through 'data' events. */
  private readonly sharedReads: boolean;
  /** Requests given to Node on this connection. */
  requests = 0;
  /** When the last response ended (Date.now()), 0 before any: for a worker's graceful stop. */
  lastDone = 0;

  constructor(owner: Screens, socket: net.Socket, nodeOnData: (chunk: Buffer) => void, nodeOnEnd: (...args: unknown[]) => void) {
    this.owner = owner;
    this.socket = socket;
    this.nodeOnData = nodeOnData;
    this.nodeOnEnd = nodeOnEnd;
    this.nodeParser = (socket as { parser?: NodeHttpParser | null }).parser ?? null;
    this.calls = nodeRequestCalls(this.nodeParser);
    this.parser = new HeadParser(owner.opts.limits, this.calls !== null);
    (socket as ScreenedSocket)[SCREEN] = this;
    // The 'data' listener also makes Node's parser let go of the socket (see Screens.take); with a shared read
    // buffer (read-buffer.ts) it hears only bytes that were buffered before.
    socket.on("data", this.onData);
    this.sharedReads = readIntoShared(socket, this.onData);
    // Node resumes a socket it paused (its app read on, its writes drained): what waited here goes on.
    socket.on("resume", this.onResume);
    socket.on("end", this.onEnd);
    socket.once("close", this.onClose);
    this.arm(Timer.Header, owner.opts.headerTimeoutMs, Date.now());
  }

  /** True once oryx has refused on this connection or closes it: Node's parser and the app are done with it. */
  get closing(): boolean {
    return this.phase === Phase.Closing;
  }

  private readonly onData = (chunk: Buffer): void => {
    const phase = this.phase;
    if (phase === Phase.Closing || phase === Phase.Detached) return;
    if (this.socket.writableEnded) {
      // Node ended the connection after a response (the app's `Connection: close`, a request limit): nothing
      // after it is read, as on oryx's engine.
      this.discard();
      return;
    }
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    if (phase === Phase.Waiting) {
      this.stash(buf, 0);
      return;
    }
    this.process(buf, 0, Date.now());
  };

  private readonly onResume = (): void => {
    if (!this.inProcess && this.pending !== null && this.phase !== Phase.Waiting) this.resumeInput();
  };

  private readonly onEnd = (): void => {
    // Node's own 'end' listener ran first (it ends its side); a screen that has answered closes the socket once
    // its bytes are out.
    if (this.phase !== Phase.Closing) return;
    const socket = this.socket;
    if (socket.writableFinished) socket.destroy();
    else socket.once("finish", () => socket.destroy());
  };

  private readonly onClose = (): void => {
    this.timer = Timer.None;
    this.pending = null;
    this.owner.forget(this);
  };

  /** The response being made, until it is done (null between requests). */
  get inFlight(): http.ServerResponse | null {
    return this.responseDone ? null : this.res;
  }

  /** Node made the response to the request just given to it (see onRequestStart). */
  requestStarted(res: http.ServerResponse): void {
    this.res = res;
    this.responseDone = false;
  }

  /**
   * The response is finished: Node is handling its 'finish' (it then detaches the response and sees to the
   * connection). The next request may go on, once Node is done with this one (a tick later) if bytes of it wait.
   */
  responseFinished(res: http.ServerResponse): void {
    if (res !== this.res) return;
    this.responseDone = true;
    this.lastDone = Date.now();
    if (this.phase !== Phase.Waiting) return;
    if (this.pending === null && this.keepAlive) {
      // Nothing waits: the next bytes start the next request.
      this.phase = Phase.Idle;
      return;
    }
    process.nextTick(this.afterResponse);
  }

  private readonly afterResponse = (): void => {
    if (this.phase !== Phase.Waiting) return;
    // Node ends the connection after a response that said close: nothing after it is read.
    if (!this.keepAlive || this.socket.writableEnded || this.socket.destroyed) {
      this.discard();
      return;
    }
    this.phase = Phase.Idle;
    if (!this.inProcess) this.resumeInput();
  };

  /** Processes received bytes until they are used up, a request waits for its response, or Node pauses. */
  private process(buf: Buffer, start: number, now: number): void {
    let off = start;
    this.inProcess = true;
    try {
      while (off < buf.length) {
        const phase = this.phase;
        if (phase === Phase.Idle || phase === Phase.Head) {
          if (phase === Phase.Idle) {
            this.phase = Phase.Head;
            this.arm(Timer.Header, this.owner.opts.headerTimeoutMs, now);
          }
          const end = this.parser.execute(buf, off);
          if (end < 0) {
            this.keepHeadPart(buf, off);
            return;
          }
          const head = this.parser.finish(this.owner.opts.limits.body);
          this.startRequest(head, buf, off, end, now);
          off = end;
          if (this.phase === Phase.Detached) {
            // The app took the socket: what followed the head is the new protocol's, for the app to read.
            if (off < buf.length && !this.socket.destroyed) this.socket.unshift(ownBytes(buf.subarray(off)));
            return;
          }
        } else if (phase === Phase.Body) {
          if (this.socket.isPaused()) {
            // Node paused the socket (the app's request stream is full, or its answers wait for the client):
            // the rest waits here, and goes on when Node resumes the socket.
            this.stash(buf, off);
            return;
          }
          this.arm(Timer.Body, this.owner.opts.bodyTimeoutMs, now);
          off = this.forwardBody(buf, off);
          if (this.phase === Phase.Detached) {
            if (off < buf.length && !this.socket.destroyed) this.socket.unshift(ownBytes(buf.subarray(off)));
            return;
          }
        } else if (phase === Phase.Waiting) {
          this.stash(buf, off);
          return;
        } else {
          return;
        }
      }
    } catch (err) {
      readFailed(this, err);
    } finally {
      this.inProcess = false;
    }
  }

  /** Keeps the head's bytes received so far (only when a head spans reads). */
  private keepHeadPart(buf: Buffer, off: number): void {
    const part = ownBytes(off === 0 ? buf : buf.subarray(off));
    if (part.length === 0) return;
    const parts = (this.headParts ??= []);
    parts.push(part);
    this.headPartsLength += part.length;
    // A head trickling in a few bytes a read would hold a Buffer object per read: joined every 64 reads, it costs
    // about its bytes (the head parser bounds those).
    if (parts.length >= 64) this.headParts = [Buffer.concat(parts, this.headPartsLength)];
  }

  /**
   * The head's bytes as sent, in the form llhttp reads as oryx did: bare LF line ends made CRLF, and copies of
   * a Content-Length that oryx found identical dropped (llhttp refuses both).
   */
  private headBytes(buf: Buffer, off: number, end: number, head: RequestHead): Buffer {
    let bytes = off === 0 && end === buf.length ? buf : buf.subarray(off, end);
    if (this.headParts !== null) {
      this.headParts.push(bytes);
      bytes = Buffer.concat(this.headParts, this.headPartsLength + bytes.length);
      this.headParts = null;
      this.headPartsLength = 0;
    }
    if (hasBareLf(bytes)) bytes = withCrlf(bytes);
    if (head.framing === "length" && countOf(head, "content-length") > 1) bytes = oneContentLength(bytes);
    return bytes;
  }

  /** Passes on the head that ends at `end` in `buf` (from `off` in this read), by telling Node's parser or as bytes. */
  private startRequest(head: RequestHead, buf: Buffer, off: number, end: number, now: number): void {
    const rawHeaders = this.calls !== null ? this.parser.rawHeaders() : null;
    this.parser.reset();
    this.requests++;
    this.keepAlive = head.keepAlive;
    this.res = null;
    this.responseDone = false;
    // What llhttp takes for an upgrade (or CONNECT): Node may then hand the socket to the app, which is done on
    // the bytes (Node's parser gives the app the bytes after the head).
    this.upgrade = head.method === "CONNECT" || (fieldOf(head, "upgrade") !== "" && /(?:^|,)[ \t]*upgrade[ \t]*(?:,|$)/i.test(fieldOf(head, "connection")));
    const method = rawHeaders !== null && !this.upgrade ? this.calls!.method(head.method) : undefined;
    this.told = method !== undefined;
    let bytes: Buffer | null = null;
    if (this.told) {
      this.headParts = null;
      this.headPartsLength = 0;
    } else {
      bytes = this.headBytes(buf, off, end, head);
    }
    if (head.framing === "none") {
      this.phase = Phase.Waiting;
      this.arm(Timer.None, 0, now);
    } else {
      this.phase = Phase.Body;
      this.remaining = head.contentLength;
      this.decoder = head.framing === "chunked" ? new ChunkedDecoder(this.owner.opts.limits, this.told) : null;
      this.arm(Timer.Body, this.owner.opts.bodyTimeoutMs, now);
    }
    if (bytes !== null) {
      this.forward(bytes);
      return;
    }
    const parser = this.nodeParser!;
    // Node's parser pauses itself when onIncoming paused the socket (output waiting): nothing of it runs here,
    // and the next request waits for this one's response anyway.
    this.calls!.headersComplete(parser, head.versionMinor, rawHeaders!, method!, head.target, head.keepAlive);
    if (head.framing === "none") this.endToNode([]);
  }

  /** Gives Node's parser a piece of the body, as llhttp would (a copy of what is in the shared read buffer). */
  private bodyToNode(chunk: Buffer): void {
    if (chunk.length === 0 || !this.nodeHas()) return;
    this.calls!.body(this.nodeParser!, ownBytes(chunk));
  }

  /** Tells Node's parser the request is complete, with its trailers. */
  private endToNode(trailers: string[]): void {
    if (this.nodeHas()) this.calls!.messageComplete(this.nodeParser!, trailers);
  }

  /** Whether the request is still Node's to hear of: not refused, and the socket still has its parser. */
  private nodeHas(): boolean {
    const phase = this.phase;
    return phase !== Phase.Closing && phase !== Phase.Detached && (this.socket as { parser?: unknown }).parser === this.nodeParser;
  }

  /** Passes on body bytes from `off`; returns where the body ended in `buf` (or its length). */
  private forwardBody(buf: Buffer, off: number): number {
    const decoder = this.decoder;
    if (decoder === null) {
      const n = Math.min(this.remaining, buf.length - off);
      this.remaining -= n;
      const piece = buf.subarray(off, off + n);
      if (this.told) this.bodyToNode(piece);
      else this.forward(piece);
      if (this.remaining === 0) {
        if (this.told) this.endToNode([]);
        this.bodyComplete();
      }
      return off + n;
    }
    const end = decoder.execute(buf, off, this.forwardChunk);
    if (end < 0) return buf.length;
    // The last chunk, and the trailers (validated by the decoder) for req.trailers.
    const t = decoder.trailers;
    if (this.told) {
      this.endToNode(decoder.rawTrailers!);
    } else {
      let last = "0\r\n";
      for (let i = 0; i < t.length; i += 2) last += `${t[i]}: ${t[i + 1]}\r\n`;
      this.forward(Buffer.from(`${last}\r\n`, "latin1"));
    }
    this.decoder = null;
    this.bodyComplete();
    return end;
  }

  /** Decoded chunk data, framed as one chunk for Node's parser. */
  private readonly forwardChunk = (data: Buffer): void => {
    if (this.phase === Phase.Closing) return;
    if (this.told) {
      this.bodyToNode(data);
      return;
    }
    const size = `${data.length.toString(16)}\r\n`;
    if (data.length < COPY_CHUNK_BELOW) {
      const out = Buffer.allocUnsafe(size.length + data.length + 2);
      out.latin1Write(size, 0);
      out.set(data, size.length);
      out[out.length - 2] = 0x0d;
      out[out.length - 1] = 0x0a;
      this.forward(out);
    } else {
      this.forward(Buffer.from(size, "latin1"));
      this.forward(data);
      this.forward(CRLF);
    }
  };

  private bodyComplete(): void {
    if (this.phase === Phase.Detached) return;
    this.arm(Timer.None, 0, 0);
    if (!this.responseDone) {
      this.phase = Phase.Waiting;
      return;
    }
    // The app answered before the body was all in (Node read the rest for nothing): on to the next request.
    if (!this.keepAlive || this.socket.writableEnded) this.discard();
    else this.phase = Phase.Idle;
  }

  /** Gives bytes oryx accepted to Node's parser, as the socket would have. */
  private forward(bytes: Buffer): void {
    if (bytes.length === 0 || this.phase === Phase.Closing || this.phase === Phase.Detached) return;
    this.nodeOnData(bytes);
    // Node took the socket for the app ('upgrade', 'connect': after the head, or after the body of an upgrade
    // request that has one): its 'end' listener is gone with the others.
    if (this.upgrade && !this.socket.listeners("end").includes(this.nodeOnEnd)) this.detach();
  }

  /**
   * Keeps unprocessed bytes for later; once they are many, stops reading until they can be used. Not before: a
   * socket read into the shared buffer stops its handle when paused, and Node resumes the socket as each
   * response ends (it dumps a request body the app did not read), so pausing at once cost two system calls per
   * pipelined request (bench/node-ab, pipelined 16 deep).
   */
  private stash(buf: Buffer, off: number): void {
    const rest = off === 0 ? buf : buf.subarray(off);
    this.pending = this.pending === null ? ownBytes(rest) : Buffer.concat([this.pending, rest]);
    if (this.pending.length >= READ_AHEAD_BYTES) this.socket.pause();
  }

  /** Goes on after a wait: the bytes kept aside first, then the socket. */
  private resumeInput(): void {
    const phase = this.phase;
    if (phase === Phase.Waiting || phase === Phase.Closing || phase === Phase.Detached) return;
    const buf = this.pending;
    this.pending = null;
    if (buf !== null) this.process(buf, 0, Date.now());
    if (this.pending === null && (this.phase as Phase) !== Phase.Closing && !this.socket.destroyed) this.socket.resume();
  }

  // ─── refusals, timeouts, closing ──────────────────────────────────────────────────────────────────────────

  /** Refuses as oryx's engine does: the status with `Connection: close`, then a half-close and a lingering read. */
  refuse(err: HttpError): void {
    if (this.phase === Phase.Closing || this.phase === Phase.Detached) return;
    this.owner.log.debug(`refused a request from ${this.socket.remoteAddress ?? "a Unix socket"}: ${err.status} ${err.code}: ${err.message}`);
    if (this.phase === Phase.Body || this.phase === Phase.Waiting) {
      // The request is the app's already (its body was refused midway). A response it completed stands, and a
      // second would answer a request the client never made; one it began cannot be cut into: the connection is.
      if (this.responseDone) {
        this.discard();
        return;
      }
      if (this.res !== null && this.res.headersSent) {
        this.phase = Phase.Closing;
        this.socket.destroy();
        return;
      }
    }
    this.answer(err.status);
  }

  /**
   * Node's parser refused bytes oryx accepted (a method llhttp does not know, say): the client gets oryx's 400,
   * as for any refusal, not Node's bare one. Socket errors (a reset) just end the connection.
   */
  nodeError(err: NodeJS.ErrnoException): void {
    if (this.phase === Phase.Closing || this.phase === Phase.Detached) return;
    if (typeof err.code === "string" && err.code.startsWith("HPE_")) {
      this.owner.log.debug(`Node's parser refused a request oryx accepted: ${err.code} ${err.message}`);
      this.refuse(new HttpError(400, "BAD_REQUEST_LINE", "Node's HTTP parser refused the request"));
      return;
    }
    this.phase = Phase.Closing;
    this.socket.destroy();
  }

  internalError(err: unknown): void {
    this.owner.log.error("internal error while screening a request", err);
    this.answer(500);
  }

  /**
   * oryx's own answer, then closing. The app's response object, if any, stays attached to a socket that is no
   * longer writable: Node keeps what it writes in the response (it goes nowhere) and ends it when the socket
   * closes ('close' on the response, 'aborted' on the request), as for a client that went away.
   */
  private answer(status: number): void {
    if (this.socket.writable) this.socket.write(simpleResponse(status, true, this.owner.opts.serverHeader), "latin1");
    this.discard();
  }

  /** Half-closes after what was written (never a reset), reading and discarding until the client closes or LINGER_MS. */
  private discard(): void {
    if (this.phase === Phase.Closing) return;
    this.phase = Phase.Closing;
    this.pending = null;
    this.headParts = null;
    const socket = this.socket;
    this.arm(Timer.None, 0, 0);
    if (!socket.writableEnded) socket.end();
    if (socket.writableFinished) this.arm(Timer.Linger, LINGER_MS, Date.now());
    else socket.once("finish", () => this.arm(Timer.Linger, LINGER_MS, Date.now()));
    if (socket.readableEnded) socket.once("finish", () => socket.destroy());
    socket.resume();
  }

  /** The app took the socket (an upgrade): no more screening, timeouts or lingering of oryx's. */
  private detach(): void {
    this.phase = Phase.Detached;
    this.arm(Timer.None, 0, 0);
    const socket = this.socket;
    socket.removeListener("data", this.onData);
    socket.removeListener("resume", this.onResume);
    socket.removeListener("end", this.onEnd);
    if (this.sharedReads) readIntoStream(socket);
    this.owner.forget(this);
  }

  private arm(kind: Timer, ms: number, now: number): void {
    this.timer = kind;
    this.deadline = now + ms;
  }

  /** Called by the sweeper: a timeout that has passed. */
  check(now: number): void {
    if (this.timer === Timer.None || now < this.deadline) return;
    const kind = this.timer;
    this.timer = Timer.None;
    switch (kind) {
      case Timer.Header:
        if (this.phase === Phase.Head && (this.parser.started || this.headParts !== null)) {
          this.refuse(new HttpError(408, "HEAD_TIMEOUT", "the request head did not arrive in time"));
        } else if (this.phase === Phase.Idle && this.requests === 0) {
          // Accepted, and nothing came: closed as an idle connection is.
          this.discard();
        }
        return;
      case Timer.Body:
        if (this.phase !== Phase.Body) return;
        // The app is not reading (Node paused the socket for it): not a stall of the client's.
        if (this.socket.isPaused()) this.arm(Timer.Body, this.owner.opts.bodyTimeoutMs, now);
        else this.refuse(new HttpError(408, "BODY_TIMEOUT", "the request body stalled"));
        return;
      case Timer.Linger:
        this.socket.destroy();
        return;
      default:
        return;
    }
  }
}

/** The value of a field in a parsed head ("" when absent; copies joined by commas). */
function fieldOf(head: RequestHead, name: string): string {
  let v = "";
  const h = head.headers;
  for (let i = 0; i < h.length; i += 2) if (h[i] === name) v = v === "" ? h[i + 1]! : `${v},${h[i + 1]!}`;
  return v;
}

function countOf(head: RequestHead, name: string): number {
  let n = 0;
  const h = head.headers;
  for (let i = 0; i < h.length; i += 2) if (h[i] === name) n++;
  return n;
}

/** The head without the Content-Length lines after the first (all alike: oryx refuses copies that differ). */
function oneContentLength(head: Buffer): Buffer {
  let seen = false;
  const lines = head.toString("latin1").split("\r\n").filter((line) => {
    if (!/^content-length:/i.test(line)) return true;
    if (seen) return false;
    seen = true;
    return true;
  });
  return Buffer.from(lines.join("\r\n"), "latin1");
}

/** Whether a line of the head ends in a bare LF. */
function hasBareLf(head: Buffer): boolean {
  let i = head.indexOf(0x0a);
  while (i !== -1) {
    if (i === 0 || head[i - 1] !== 0x0d) return true;
    i = head.indexOf(0x0a, i + 1);
  }
  return false;
}

function withCrlf(head: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < head.length; i++) {
    const b = head[i]!;
    if (b === 0x0a && (i === 0 || head[i - 1] !== 0x0d)) out.push(0x0d);
    out.push(b);
  }
  return Buffer.from(out);
}
