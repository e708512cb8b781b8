/**
 * Why a request was refused. Every refusal carries the status the client gets, a stable code for logs and
 * tests, and a human sentence. The message never echoes client bytes back (no reflection into error pages).
 */
export type HttpErrorCode =
  | "BAD_REQUEST_LINE"
  | "BAD_METHOD"
  | "BAD_TARGET"
  | "BAD_VERSION"
  | "UNSUPPORTED_VERSION"
  | "REQUEST_LINE_TOO_LONG"
  | "BAD_FIELD_NAME"
  | "BAD_FIELD_VALUE"
  | "OBS_FOLD"
  | "BARE_CR"
  | "FIELD_TOO_LARGE"
  | "TOO_MANY_FIELDS"
  | "BAD_HOST"
  | "BAD_CONTENT_LENGTH"
  | "CONTENT_LENGTH_WITH_TRANSFER_ENCODING"
  | "BAD_TRANSFER_ENCODING"
  | "UNKNOWN_TRANSFER_CODING"
  | "TRANSFER_ENCODING_ON_HTTP10"
  | "BAD_CHUNK"
  | "BAD_TRAILER"
  | "BODY_TOO_LARGE"
  | "EXPECTATION_FAILED"
  | "HEAD_TIMEOUT"
  | "BODY_TIMEOUT";

export class HttpError extends Error {
  readonly status: number;
  readonly code: HttpErrorCode;
  constructor(status: number, code: HttpErrorCode, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
  }
}

/** Something that reads requests off a connection: oryx's engine (server/connection.ts), or the screen in front of a Node app. */
export interface RequestReader {
  /** Answers a request oryx refuses with its status, `Connection: close`, and stops reading. */
  refuse(err: HttpError): void;
  /** Answers 500 for a failure of oryx's own while reading, logs it, and closes. */
  internalError(err: unknown): void;
}

/** The one rule when reading requests fails: a refusal (HttpError) gets its status; anything else is oryx's own failure. */
export function readFailed(reader: RequestReader, err: unknown): void {
  if (err instanceof HttpError) reader.refuse(err);
  else reader.internalError(err);
}

export const badRequest = (code: HttpErrorCode, message: string): HttpError => new HttpError(400, code, message);
