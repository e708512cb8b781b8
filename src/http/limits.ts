/** Limits on what a client controls. Every one of them has a finite default (see src/config/settings.ts). */
export interface Limits {
  /** Longest request line, in bytes, without its line end → 414. */
  requestLine: number;
  /** Most header fields in one request (and trailer fields in one chunked body) → 431 (trailers: 400). */
  fields: number;
  /** Longest header field line (name, colon and value), in bytes → 431. */
  fieldSize: number;
  /** Largest request body, in bytes, after chunked decoding → 413. */
  body: number;
}
