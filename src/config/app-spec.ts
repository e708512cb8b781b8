/**
 * The app named on the command line, `MODULE[:EXPORT]`, as text: what the master needs of it. Loading it is the
 * workers' job (gateway/load.ts); the master only names it, so it never loads the gateway.
 */

export interface AppSpec {
  /** The module path as the user wrote it. */
  module: string;
  /** The export to serve; "default" unless `MODULE:EXPORT` named one. */
  exportName: string;
}

/** How to serve the app's export: found from its shape (`auto`), or forced by --interface. */
export const INTERFACE_CHOICES = ["auto", "fetch", "node"] as const;
export type InterfaceChoice = (typeof INTERFACE_CHOICES)[number];

export const APP_EXTENSIONS = [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"] as const;

/** Splits `MODULE[:EXPORT]`; the part after the last colon is an export only if it is an identifier. */
export function parseAppSpec(text: string): AppSpec {
  const m = /^(.*):([A-Za-z_$][\w$]*)$/.exec(text);
  if (m !== null && m[1] !== "") return { module: m[1]!, exportName: m[2]! };
  return { module: text, exportName: "default" };
}
