import { createWriteStream, type WriteStream } from "node:fs";
import type { AccessRecord } from "./connection.ts";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `[22/Nov/2026:10:00:00 +0000]`: the Common Log Format time, always in UTC. */
function clfTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `[${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000]`;
}

/** Client-controlled text goes into the log escaped, so nobody can forge a log line. */
function esc(s: string): string {
  return s.replace(/["\\\x00-\x1f\x7f-\xff]/g, (c) => (c === '"' ? '\\"' : c === "\\" ? "\\\\" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}

function header(headers: string[], name: string): string {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1]!;
  return "";
}

/** One line in Apache's combined format. */
export function formatCombined(r: AccessRecord): string {
  const h = r.head;
  const ref = header(h.headers, "referer");
  const ua = header(h.headers, "user-agent");
  return (
    `${r.info.remoteAddress || "-"} - - ${clfTime(r.startedAt)} "${esc(h.method)} ${esc(h.target)} HTTP/1.${h.versionMinor}" ` +
    `${r.status || "-"} ${r.bytes > 0 ? r.bytes : "-"} "${ref ? esc(ref) : "-"}" "${ua ? esc(ua) : "-"}"\n`
  );
}

export interface AccessLog {
  write(record: AccessRecord): void;
  /** Reopens the file (after logrotate renamed it: SIGUSR1). */
  reopen(): void;
  close(): Promise<void>;
}

/** Opens the access log: "-" is standard output, anything else a file opened for appending. Writes never block. */
export function openAccessLog(target: string): AccessLog {
  if (target === "-") {
    return {
      write: (record) => {
        process.stdout.write(formatCombined(record));
      },
      reopen: () => {},
      close: () => Promise.resolve(),
    };
  }
  let stream: WriteStream = createWriteStream(target, { flags: "a" });
  const end = (s: WriteStream): Promise<void> => new Promise((resolve) => s.end(() => resolve()));
  return {
    write: (record) => {
      stream.write(formatCombined(record));
    },
    reopen: () => {
      const old = stream;
      stream = createWriteStream(target, { flags: "a" });
      void end(old);
    },
    close: () => end(stream),
  };
}
