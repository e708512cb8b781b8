export { HttpError, type HttpErrorCode } from "./errors.ts";
export { HeadParser, type RequestHead, type BodyFraming } from "./head.ts";
export { ChunkedDecoder } from "./chunked.ts";
export type { Limits } from "./limits.ts";
export { serializeHead, simpleResponse, chunkHeader, CONTINUE_100, LAST_CHUNK, type ResponseFraming } from "./response.ts";
export { STATUS_TEXT, statusForbidsBody } from "./status.ts";
export { httpDate } from "./date.ts";
