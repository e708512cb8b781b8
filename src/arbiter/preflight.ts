/**
 * The master's checks before it binds: what every worker would otherwise find out for itself, and fail on, one
 * after another.
 */
import { closeSync, openSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Settings } from "../config/settings.ts";
import { AccessFormatError, compileAccessFormat } from "../server/access-format.ts";

/**
 * What every worker would otherwise find out for itself, and fail on, one after another: a bad access-log format,
 * an access log that cannot be opened, a TLS certificate and key that do not go together. Checked once, at start;
 * the answer is one sentence (and exit 2), or null when all is well.
 */
export function preflight(s: Settings): string | null {
  if (s.accessLog !== "") {
    try {
      compileAccessFormat(s.accessLogFormat);
    } catch (err) {
      if (!(err instanceof AccessFormatError)) throw err;
      return `--access-log-format: ${err.message}`;
    }
    if (s.accessLog !== "-") {
      try {
        closeSync(openSync(s.accessLog, "a"));
      } catch (err) {
        return `--access-log: cannot open ${s.accessLog}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      }
    }
  }
  if (s.certfile !== "") {
    try {
      const { createSecureContext } = createRequire(import.meta.url)("node:tls") as typeof import("node:tls");
      createSecureContext({
        cert: readFileSync(s.certfile),
        key: readFileSync(s.keyfile),
        ...(s.caCerts !== "" ? { ca: readFileSync(s.caCerts) } : {}),
      });
    } catch (err) {
      return `cannot use the TLS certificate or key: ${(err as Error).message}`;
    }
  }
  return null;
}

