// Markdown and number formatting shared by the report's sections (report.ts, ws-report.ts).

export const fmtInt = (n: number): string => Math.round(n).toLocaleString("en-US");
export const fmtRatio = (r: number | null): string => (r === null ? "–" : r.toFixed(2));
export const fmtMiB = (kib: number | null): string => (kib === null ? "–" : (kib / 1024).toFixed(1));
/** A peer's label without its Markdown bold. */
export const plain = (label: string): string => label.replace(/\*\*/g, "");

export function table(head: string[], rows: string[][], right: boolean[]): string {
  const sep = head.map((_, i) => (right[i] ? "---:" : "---"));
  return [head, sep, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}
