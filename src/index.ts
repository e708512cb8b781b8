/** oryx's programmatic surface. The CLI (`oryx MODULE[:EXPORT]`) is the main way in; see the README. */
export { Server, ListenError, type ServerOptions } from "./server/server.ts";
export type { ConnectionOptions, AccessRecord } from "./server/connection.ts";
export { fetchGateway, type FetchHandler } from "./gateway/fetch.ts";
export type { ConnectionInfo, Exchange, RequestHandler } from "./gateway/exchange.ts";
export { loadApp, parseAppSpec, AppLoadError, type LoadedApp, type AppSpec } from "./gateway/load.ts";
export { SETTINGS, defaultSettings, type Settings, type Bind } from "./config/settings.ts";
export { HeadParser, ChunkedDecoder, HttpError, type RequestHead, type Limits } from "./http/index.ts";
export { createLogger, type Logger, type LogLevel } from "./log.ts";
export { VERSION } from "./version.ts";
export {
  OryxError,
  UsageError,
  ConfigFileError,
  AccessFormatError,
  ClientGoneError,
  ResponseError,
  NodeInternalsError,
  ERROR_CODES,
  type OryxErrorCode,
} from "./errors.ts";
export { serve, type ServeOptions, type OryxServer } from "./serve.ts";
export { defineConfig, type OryxConfig } from "./config/file.ts";
export { upgradeWebSocket, OryxWebSocket, type UpgradeWebSocketOptions } from "./ws/deno.ts";
export { ServerWebSocket } from "./ws/server-websocket.ts";
export type { WebSocketHandler } from "./ws/context.ts";
export { WsProtocolError } from "./ws/errors.ts";
export { BunUnavailableError } from "./ws/bun-stub.ts";
