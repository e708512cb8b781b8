import { readFileSync } from "node:fs";
import type { Settings } from "../config/settings.ts";
import type { RequestHandler } from "../gateway/exchange.ts";
import type { NodeLimits } from "../gateway/node.ts";
import type { Logger } from "../log.ts";
import type { AccessLog } from "./access-log.ts";
import type { ConnectionOptions } from "./connection.ts";
import { WsContext, type WebSocketHandler } from "../ws/context.ts";
import type { ServerOptions } from "./server.ts";
import { TrustedPeers } from "./trust.ts";

/** The settings, as the options of the engine's parts: one place, for workers and for serve() alike. */

/** The engine's per-connection options from the settings, for a request handler. */
export function connectionOptions(settings: Settings, handler: RequestHandler, log: Logger, accessLog: AccessLog | null, websocket: WebSocketHandler<unknown> | null = null): ConnectionOptions {
  return {
    websocket: new WsContext(
      { maxMessage: settings.wsMaxMessage, idleTimeoutMs: settings.wsIdleTimeout, backpressureLimit: settings.wsBackpressureLimit },
      websocket,
      log,
    ),
    limits: {
      requestLine: settings.limitRequestLine,
      fields: settings.limitRequestFields,
      fieldSize: settings.limitRequestFieldSize,
      body: settings.limitRequestBody,
    },
    headerTimeoutMs: settings.headerTimeout,
    keepAliveTimeoutMs: settings.keepAliveTimeout,
    bodyTimeoutMs: settings.requestTimeout,
    sendTimeoutMs: settings.sendTimeout,
    serverHeader: settings.serverHeader,
    handler,
    log,
    onAccess: accessLog === null ? null : accessLog.write,
  };
}

/**
 * TLS, trusted proxies and the PROXY protocol, from the settings. Certificate files are read here, when a
 * worker starts: a reload (SIGHUP) starts new workers, which read the new certificates.
 */
export function serverEdges(settings: Settings): Pick<ServerOptions, "tls" | "trustedPeers" | "proxyProtocol" | "unixSocketMode"> {
  return {
    ...(settings.certfile !== ""
      ? {
          tls: {
            cert: readFileSync(settings.certfile),
            key: readFileSync(settings.keyfile),
            ...(settings.caCerts !== "" ? { ca: readFileSync(settings.caCerts) } : {}),
          },
        }
      : {}),
    trustedPeers: new TrustedPeers(settings.forwardedAllowIps),
    proxyProtocol: settings.proxyProtocol,
    unixSocketMode: settings.unixSocketMode,
  };
}

/** oryx's settings as limits for a Node app's http.Server. */
export function nodeLimits(settings: Settings): NodeLimits {
  return {
    headerTimeoutMs: settings.headerTimeout,
    requestTimeoutMs: settings.requestTimeout,
    keepAliveTimeoutMs: settings.keepAliveTimeout,
    // Node counts the request line and the fields as one head.
    maxHeaderSize: settings.limitRequestLine + settings.limitRequestFieldSize * 4,
    maxHeadersCount: settings.limitRequestFields,
    maxBodyBytes: settings.limitRequestBody,
  };
}
