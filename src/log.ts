import { closeSync, openSync, writeSync } from "node:fs";

/**
 * The error log: one line per event, with time, pid and level, the way operators grep for them, on stderr or
 * appended to a file (--error-log). Writes are synchronous on purpose (the error log is rare, and a crash must not
 * lose its last line).
 */
export const LOG_LEVELS = ["debug", "info", "warning", "error", "critical"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warning(msg: string): void;
  error(msg: string, err?: unknown): void;
  critical(msg: string, err?: unknown): void;
  isEnabled(level: LogLevel): boolean;
  /** Closes and reopens the log file (after logrotate renamed it: SIGUSR1); nothing for stderr. */
  reopen(): void;
  /** Closes the log file (later lines go to stderr); nothing for stderr. */
  close(): void;
}

function stamp(): string {
  return new Date().toISOString();
}

/** Where lines go: "-" for stderr, a file path (appended to), or a function given each line (tests). */
export type LogTarget = string | ((line: string) => void);

/** A log file opened for appending; every line one write(2), so workers' lines never interleave. */
function fileSink(file: string): { write: (line: string) => void; reopen: () => void; close: () => void } {
  const open = (): number => openSync(file, "a", 0o644);
  // -1 once closed: a closed descriptor's number may be reused by another file, which must not get our lines.
  let fd = open();
  const write = (line: string): void => {
    if (fd >= 0) {
      try {
        writeSync(fd, line);
        return;
      } catch {
        // A full disk must not take the process down: the line goes to stderr instead.
      }
    }
    process.stderr.write(line);
  };
  return {
    write,
    reopen: () => {
      if (fd < 0) return;
      // Open the new file before closing the old: if it cannot be opened, lines keep going to the old one.
      let next: number;
      try {
        next = open();
      } catch (err) {
        write(`[${stamp()}] [${process.pid}] [ERROR] cannot reopen the error log ${file}: ${(err as Error).message}\n`);
        return;
      }
      const old = fd;
      fd = next;
      closeSync(old);
    },
    close: () => {
      if (fd < 0) return;
      const old = fd;
      fd = -1;
      closeSync(old);
    },
  };
}

/**
 * A logger writing lines of at least `level` to `target`. Opening a file may throw (a missing directory, no
 * permission): the caller reports it.
 */
export function createLogger(level: LogLevel, target: LogTarget = "-"): Logger {
  let write: (line: string) => void;
  let reopen: () => void = () => {};
  let close: () => void = () => {};
  if (typeof target === "function") {
    write = target;
  } else if (target === "-") {
    write = (l) => process.stderr.write(l);
  } else {
    const sink = fileSink(target);
    write = sink.write;
    reopen = sink.reopen;
    close = sink.close;
  }
  const min = LOG_LEVELS.indexOf(level);
  const emit = (lvl: LogLevel, msg: string, err?: unknown): void => {
    if (LOG_LEVELS.indexOf(lvl) < min) return;
    let line = `[${stamp()}] [${process.pid}] [${lvl.toUpperCase()}] ${msg}\n`;
    if (err !== undefined) line += `${describeError(err)}\n`;
    write(line);
  };
  return {
    debug: (m) => emit("debug", m),
    info: (m) => emit("info", m),
    warning: (m) => emit("warning", m),
    error: (m, e) => emit("error", m, e),
    critical: (m, e) => emit("critical", m, e),
    isEnabled: (lvl) => LOG_LEVELS.indexOf(lvl) >= min,
    reopen,
    close,
  };
}

/** An error's stack when it has one, else its string form: for logs only, never for clients. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  try {
    return `non-Error thrown: ${typeof err === "string" ? err : JSON.stringify(err)}`;
  } catch {
    return `non-Error thrown: ${String(err)}`;
  }
}
