/**
 * Where the load goes: the URL's host resolved once (connections then use the address, no lookup per connect),
 * and refused unless it is loopback or --allow-remote was given. A remote name is refused before it is even
 * looked up, so nothing leaves the machine by accident.
 */
import { lookup } from "node:dns/promises";
import net from "node:net";
import { BenchUsageError, isLoopbackAddress, type Target } from "./args.ts";

export interface ResolvedTarget extends Target {
  /** The address connections go to. */
  address: string;
}

export async function resolveTarget(target: Target, allowRemote: boolean): Promise<ResolvedTarget> {
  const name = target.hostname;
  const literal = net.isIP(name) !== 0;
  const local = literal ? isLoopbackAddress(name) : name.toLowerCase() === "localhost";
  if (!local && !allowRemote) throw refuse(name);
  if (literal) return { ...target, address: name };
  let address: string;
  try {
    address = (await lookup(name)).address;
  } catch (err) {
    throw new BenchUsageError(`cannot resolve ${name}: ${(err as NodeJS.ErrnoException).code ?? String(err)}.`);
  }
  // "localhost" bent to point elsewhere is still elsewhere.
  if (!allowRemote && !isLoopbackAddress(address)) throw refuse(`${name} (${address})`);
  return { ...target, address };
}

function refuse(what: string): BenchUsageError {
  return new BenchUsageError(`refusing to load ${what}, which is not a loopback address; pass --allow-remote if you mean it.`);
}
