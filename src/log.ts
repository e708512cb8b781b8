/**
 * The error log: one line per event on stderr, with time, pid and level, the way operators grep for them.
 * Writes are synchronous on purpose (stderr is a pipe or a terminal; a crash must not lose its last line).
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
}

function stamp(): string {
  return new Date().toISOString();
}

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
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
