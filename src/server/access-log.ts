import { createWriteStream, type WriteStream } from "node:fs";
import type { AccessRecord } from "../gateway/exchange.ts";
import { compileAccessFormat } from "./access-format.ts";

export interface AccessLog {
  write(record: AccessRecord): void;
  /** Reopens the file (after logrotate renamed it: SIGUSR1). */
  reopen(): void;
  close(): Promise<void>;
}

/**
 * Opens the access log: "-" is standard output, anything else a file opened for appending; each line in `format`
 * (see access-format.ts; throws AccessFormatError for a bad one). Writes never block.
 */
export function openAccessLog(target: string, format: string, onError: (err: Error) => void = () => {}): AccessLog {
  const line = compileAccessFormat(format);
  if (target === "-") {
    return {
      write: (record) => {
        process.stdout.write(line(record));
      },
      reopen: () => {},
      close: () => Promise.resolve(),
    };
  }
  // A file that cannot be written (its directory removed, a full disk) is reported, never a crash of the worker.
  const open = (): WriteStream => createWriteStream(target, { flags: "a" }).on("error", (err) => onError(err));
  let stream: WriteStream = open();
  const end = (s: WriteStream): Promise<void> => new Promise((resolve) => s.end(() => resolve()));
  return {
    write: (record) => {
      stream.write(line(record));
    },
    reopen: () => {
      const old = stream;
      stream = open();
      void end(old);
    },
    close: () => end(stream),
  };
}
