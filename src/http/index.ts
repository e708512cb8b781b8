export { HttpError, readFailed, type HttpErrorCode, type RequestReader } from "./errors.ts";
export { HeadParser, type RequestHead, type BodyFraming } from "./head.ts";
export { ChunkedDecoder } from "./chunked.ts";
export type { Limits } from "./limits.ts";
export { serializeHead, simpleResponse, chunkHeader, CONTINUE_100, LAST_CHUNK } from "./response.ts";
export { responseFraming, framedLength, bodyOnWire, closesAfter, takeAppFraming, NO_BODY, STREAMED, type ResponseFraming, type AppFraming } from "./framing.ts";
export { STATUS_TEXT, statusForbidsBody } from "./status.ts";
export { httpDate } from "./date.ts";
