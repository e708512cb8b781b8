import type { Bind } from "./settings.ts";

/**
 * A bind as the user writes it, for messages and for showing settings: `127.0.0.1:8000`, `[::1]:8000`,
 * `unix:/run/app.sock`, `fd://3`. A leaf of its own: workers name their binds without loading the settings table.
 */
export function bindText(b: Bind): string {
  if (b.kind === "unix") return `unix:${b.path}`;
  if (b.kind === "fd") return `fd://${b.fd}`;
  return b.host.includes(":") ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}
