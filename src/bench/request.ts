/**
 * The request, serialized once. A connection writes `copies[k]` (k requests back to back) in one write, so
 * pipelining and catching up after a batch of responses cost one syscall and no allocation.
 */
import type { RequestSpec, Target } from "./args.ts";

export function requestBytes(target: Target, spec: RequestSpec): Buffer {
  const lines = [`${spec.method} ${target.path} HTTP/1.1`];
  if (!spec.headers.some((h) => /^host:/i.test(h))) lines.push(`Host: ${target.host}`);
  lines.push(...spec.headers);
  if (spec.body !== null) lines.push(`Content-Length: ${spec.body.length}`);
  const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  return spec.body === null ? head : Buffer.concat([head, spec.body]);
}

/** copies[k] is `request` repeated k times, for k from 0 to max. */
export function requestCopies(request: Buffer, max: number): Buffer[] {
  const out: Buffer[] = [Buffer.alloc(0)];
  for (let k = 1; k <= max; k++) {
    const b = Buffer.allocUnsafe(request.length * k);
    for (let i = 0; i < k; i++) request.copy(b, i * request.length);
    out.push(b);
  }
  return out;
}
