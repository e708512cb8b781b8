/**
 * The errors oryx raises itself: each a class with a `name`, a stable `code` and one human sentence (undici's
 * `UND_ERR_*` errors are the model). A caller, or an app, tells them apart by `code` or `instanceof`, never by
 * the wording, which may improve. A leaf module: it imports nothing of oryx, so every room can use it (but
 * `http/`, which imports nothing of oryx; its `HttpError` carries a status and a code of its own).
 */

/** Every code oryx gives its own errors, with what it means. */
export const ERROR_CODES = {
  /** A bad flag, environment variable or setting value (the CLI exits 2). */
  ORYX_ERR_USAGE: "a bad flag, environment variable or setting value",
  /** A config file that cannot be read, parsed or holds a bad value (the CLI exits 2). */
  ORYX_ERR_CONFIG_FILE: "a bad config file",
  /** The app module cannot be found, loaded, or offers nothing oryx can serve. */
  ORYX_ERR_APP_LOAD: "the app cannot be loaded",
  /** An address cannot be listened on; `cause` is the system's error (its `code`: EADDRINUSE, EACCES, …). */
  ORYX_ERR_LISTEN: "cannot listen",
  /** A bad --access-log-format. */
  ORYX_ERR_ACCESS_FORMAT: "a bad access-log format",
  /** The client closed the connection before the response was complete (the error of its request body). */
  ORYX_ERR_CLIENT_GONE: "the client went away",
  /** The response was sent before the app read the request body, which oryx then discards (or closes). */
  ORYX_ERR_BODY_UNREAD: "the request body was not read",
  /** The app's response body is longer or shorter than the Content-Length it declared. */
  ORYX_ERR_RESPONSE_LENGTH: "a response body of the wrong length",
  /** The response failed after its head had been sent: the connection is closed, the client sees a cut body. */
  ORYX_ERR_RESPONSE_CUT: "a response failed after its head was sent",
  /** Something of Node's internals that oryx relies on is missing in this Node.js. */
  ORYX_ERR_NODE_INTERNALS: "a Node.js internal oryx relies on is missing",
  /** A member of Bun's API that oryx does not provide on Node was called (src/ws/bun-stub.ts). */
  ORYX_ERR_BUN_UNAVAILABLE: "a Bun API that oryx does not provide on Node",
  /** A bad `oryx bench` flag or target. */
  ORYX_ERR_BENCH_USAGE: "a bad oryx bench flag or target",
} as const;

export type OryxErrorCode = keyof typeof ERROR_CODES;

/** The base of oryx's own errors: a code, a sentence, and (where one led to it) a cause. */
export class OryxError extends Error {
  readonly code: OryxErrorCode;
  constructor(code: OryxErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "OryxError";
  }
}

/** A bad flag, environment variable or setting value. */
export class UsageError extends OryxError {
  constructor(message: string, code: "ORYX_ERR_USAGE" | "ORYX_ERR_CONFIG_FILE" = "ORYX_ERR_USAGE") {
    super(code, message);
    this.name = "UsageError";
  }
}

/** A bad config file (a UsageError: the CLI answers both the same way, with exit code 2). */
export class ConfigFileError extends UsageError {
  constructor(message: string) {
    super(message, "ORYX_ERR_CONFIG_FILE");
    this.name = "ConfigFileError";
  }
}

/** The app module cannot be loaded or served; `cause` is what the app threw, if it threw. */
export class AppLoadError extends OryxError {
  constructor(message: string, cause?: unknown) {
    super("ORYX_ERR_APP_LOAD", message, cause === undefined ? undefined : { cause });
    this.name = "AppLoadError";
  }
  /** What the app threw (the same as `cause`; the name it had before errors carried causes). */
  get detail(): unknown {
    return this.cause;
  }
}

/** A bad --access-log-format. */
export class AccessFormatError extends OryxError {
  constructor(message: string) {
    super("ORYX_ERR_ACCESS_FORMAT", message);
    this.name = "AccessFormatError";
  }
}

/** Something of Node's internals that oryx relies on is missing (a Node.js release changed it). */
export class NodeInternalsError extends OryxError {
  constructor(message: string) {
    super("ORYX_ERR_NODE_INTERNALS", message);
    this.name = "NodeInternalsError";
  }
}

/**
 * The client closed the connection before the response was complete: the error of a request body stream cut
 * short (`request.signal` aborts too, with the standard AbortError). Not an application error: oryx logs it at
 * info level, without a stack, at most a few lines a second.
 */
export class ClientGoneError extends OryxError {
  constructor(message = "the client closed the connection before the response was complete") {
    super("ORYX_ERR_CLIENT_GONE", message);
    this.name = "ClientGoneError";
  }
}

/** What ends a response that cannot be completed as declared (wrong length, failure after the head). */
export class ResponseError extends OryxError {
  constructor(code: "ORYX_ERR_RESPONSE_LENGTH" | "ORYX_ERR_RESPONSE_CUT" | "ORYX_ERR_BODY_UNREAD", message: string) {
    super(code, message);
    this.name = "ResponseError";
  }
}
