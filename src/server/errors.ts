import { bindText } from "../config/bind-text.ts";

/** A listen failure, with the address and a human reason ("address already in use"). */
export class ListenError extends Error {
  readonly code: string | undefined;
  constructor(address: string, err: NodeJS.ErrnoException) {
    super(`cannot listen on ${address}: ${describeListenError(err)}`);
    this.name = "ListenError";
    this.code = err.code;
  }
}

function describeListenError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "EADDRINUSE": return "address already in use";
    case "EACCES": return "permission denied";
    case "EADDRNOTAVAIL": return "address not available on this machine";
    case "ENOTFOUND": case "EAI_AGAIN": return "host name not found";
    case "EINVAL": case "EBADF": case "ENOTSOCK": return "not a socket this process can listen on";
    default: return err.message;
  }
}

export { bindText };
