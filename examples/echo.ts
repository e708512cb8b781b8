// Echoes what arrived: method, target, headers, and the body's length and SHA-256 digest.
import { createHash } from "node:crypto";

export default {
  async fetch(request: Request, info: { remoteAddress: string; remotePort: number }): Promise<Response> {
    const url = new URL(request.url);
    const hash = createHash("sha256");
    let length = 0;
    if (request.body !== null) {
      for await (const chunk of request.body) {
        hash.update(chunk);
        length += chunk.length;
      }
    }
    return Response.json({
      method: request.method,
      url: request.url,
      target: url.pathname + url.search,
      headers: Object.fromEntries(request.headers),
      body: { length, sha256: hash.digest("hex") },
      remote: { address: info.remoteAddress, port: info.remotePort },
    });
  },
};
