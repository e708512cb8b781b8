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
    ...requestLimits(settings),
    sendTimeoutMs: settings.sendTimeout,
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

/**
 * What a client may send and how long it may take, for both kinds of app: oryx's engine applies these to fetch
 * apps, and its screen in front of Node's parser (src/gateway/node-screen.ts) to Node apps.
 */
function requestLimits(settings: Settings): NodeLimits {
  return {
    limits: {
      requestLine: settings.limitRequestLine,
      fields: settings.limitRequestFields,
      fieldSize: settings.limitRequestFieldSize,
      body: settings.limitRequestBody,
    },
    headerTimeoutMs: settings.headerTimeout,
    keepAliveTimeoutMs: settings.keepAliveTimeout,
    bodyTimeoutMs: settings.requestTimeout,
    serverHeader: settings.serverHeader,
  };
}

/** oryx's settings as limits for a Node app's http.Server: the same as a fetch app's. */
export function nodeLimits(settings: Settings): NodeLimits {
  return requestLimits(settings);
}
