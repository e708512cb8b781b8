import { bindText } from "../config/bind-text.ts";
import { OryxError } from "../errors.ts";

/**
 * A listen failure, with the address and a human reason ("address already in use"). Its code is
 * ORYX_ERR_LISTEN; the system's error is its `cause`, and the system's code (EADDRINUSE, EACCES, …) `systemCode`.
 */
export class ListenError extends OryxError {
  readonly systemCode: string | undefined;
  constructor(address: string, err: NodeJS.ErrnoException) {
    super("ORYX_ERR_LISTEN", `cannot listen on ${address}: ${describeListenError(err)}`, { cause: err });
    this.name = "ListenError";
    this.systemCode = err.code;
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
