/**
 * The defaults every server runs with in the suite, for the report and the idle scenario's window: oryx's from
 * its settings table (src/config/settings.ts; dist/ is built from it, and the suite warns when dist/ is older),
 * node:http's from a Server object of this Node.
 */
import { Server } from "node:http";
import { SETTINGS } from "../src/config/settings.ts";

/** oryx's default for a setting: [its value, how --help writes it], or null if the table has no such key. */
export function oryxDefault(key: string): { value: unknown; text: string } | null {
  const s = SETTINGS.find((x) => x.key === key);
  return s === undefined ? null : { value: s.default, text: s.defaultText };
}

/** The oryx defaults the report names, as `--flag value` (what the suite would pass if it passed them). */
export function oryxDefaultsText(): string {
  return ["workerConnections", "keepAliveTimeout", "maxSemiSpace", "gracefulTimeout"]
    .map((key) => {
      const s = SETTINGS.find((x) => x.key === key);
      return s === undefined ? null : `\`--${s.flag} ${s.defaultText}\``;
    })
    .filter((x) => x !== null)
    .join(", ");
}

/** node:http's default keep-alive timeout here (5 s in Node 20). */
export function nodeKeepAliveMs(): number {
  return new Server().keepAliveTimeout;
}

/**
 * The idle scenario's window: the shortest default keep-alive timeout among the peers (oryx's and node:http's;
 * fastify's is 72 s, Bun's idle timeout 10 s, the toy has none), in ms.
 */
export function keepAliveWindowMs(): number {
  const oryx = oryxDefault("keepAliveTimeout")?.value;
  const node = nodeKeepAliveMs();
  return typeof oryx === "number" && oryx > 0 ? Math.min(oryx, node) : node;
}
