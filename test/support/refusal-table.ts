/**
 * The refusal table: every smuggling and malformed-request case oryx's parser refuses, as data, with the status
 * it gets. test/e2e/refusal-table.test.ts runs it against a fetch app and a Node (Express) app through the CLI
 * and expects the same answer from both; test/http/refusals.test.ts checks the same cases one by one against
 * the engine in process (with the reasons for each).
 *
 * Every case holds within LIMITS (the limits cases need them; the rest are far inside them).
 */

export const LIMITS = { limitRequestLine: 100, limitRequestFieldSize: 200, limitRequestFields: 10, limitRequestBody: 1000 };

/** The same limits as CLI flags. */
export const LIMIT_FLAGS = ["--limit-request-line", "100", "--limit-request-field-size", "200", "--limit-request-fields", "10", "--limit-request-body", "1000"];

export interface RefusalCase {
  name: string;
  bytes: string;
  status: number;
  /** A body-framing refusal: the head was valid, so the app was handed the request, but never its body's end. */
  appSees?: boolean;
  /** Also sent one byte per write, 1 ms apart (the same answer however the bytes arrive). */
  split?: boolean;
}

const post = (headers: string, body = ""): string => `POST / HTTP/1.1\r\nHost: a\r\n${headers}\r\n${body}`;
const get = (headers: string): string => `GET / HTTP/1.1\r\n${headers}\r\n`;
const chunkedPost = (body: string): string => post("Transfer-Encoding: chunked\r\n", body);
const lineOf = (n: number): string => `GET /${"a".repeat(n - "GET / HTTP/1.1".length)} HTTP/1.1`;
const fieldOf = (n: number): string => `X-A: ${"b".repeat(n - "X-A: ".length)}`;
const fields = (n: number): string => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join("");

/** Malformed request lines (each sent with `Host: a` and nothing else): 400 whatever the limits. */
export const BAD_REQUEST_LINES: ReadonlyArray<readonly [name: string, line: string]> = [
  ["double space after the method", "GET  / HTTP/1.1"],
  ["double space before the version", "GET /  HTTP/1.1"],
  ["missing version (HTTP/0.9)", "GET /"],
  ["missing version, trailing space", "GET / "],
  ["lowercase http/1.1", "GET / http/1.1"],
  ["tab separators", "GET\t/\tHTTP/1.1"],
  ["method with a non-token char", "GE(T / HTTP/1.1"],
  ["method with a non-ASCII byte", "G\xc9T / HTTP/1.1"],
  ["leading space", " GET / HTTP/1.1"],
  ["trailing space after the version", "GET / HTTP/1.1 "],
  ["target with a space", "GET /a b HTTP/1.1"],
  ["target with a control char", "GET /a\x01b HTTP/1.1"],
  ["target with DEL", "GET /a\x7fb HTTP/1.1"],
  ["target with a non-ASCII byte", "GET /caf\xe9 HTTP/1.1"],
  ["target with a NUL", "GET /a\x00 HTTP/1.1"],
  ["target with a fragment", "GET /a#frag HTTP/1.1"],
  ["target that is only a fragment after the path", "GET /# HTTP/1.1"],
  ["target with a backslash", "GET /a\\..\\admin HTTP/1.1"],
  ["absolute-form target with a backslash", "GET http://a/b\\c HTTP/1.1"],
  ["empty method", " / HTTP/1.1"],
  ["asterisk form for GET", "GET * HTTP/1.1"],
];

/** HTTP versions oryx does not serve (505) or that are not versions at all (400). */
export const BAD_VERSIONS: ReadonlyArray<readonly [version: string, status: number]> = [
  ...["HTTP/2.0", "HTTP/1.2", "HTTP/3.0", "HTTP/0.9"].map((v) => [v, 505] as const),
  ...["HTTP/1.10", "HTTP/1", "HTTP/1.", "HTTP/11", "HTTP/1.x", "HTTPS/1.1", "HTTP/1,1"].map((v) => [v, 400] as const),
];

export const REFUSALS: RefusalCase[] = [
  // Content-Length and Transfer-Encoding
  { name: "Content-Length with Transfer-Encoding", bytes: post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), status: 400, split: true },
  { name: "Transfer-Encoding with Content-Length", bytes: post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "5\r\nhello\r\n0\r\n\r\n"), status: 400 },
  ...["+5", "5 x", " 0x5", "0x5", "5,5", "-1", "", "5.0", "1e3", "5 5"].map((v) => ({ name: `Content-Length ${JSON.stringify(v)}`, bytes: post(`Content-Length: ${v}\r\n`, "hello"), status: 400 })),
  { name: "two different Content-Length fields", bytes: post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"), status: 400 },
  { name: "Content-Length 5 and 05", bytes: post("Content-Length: 5\r\nContent-Length: 05\r\n", "hello"), status: 400 },
  ...["gzip", "chunked, gzip", "identity", "chunked;q=1", "", "xchunked", '"chunked"'].map((te) => ({ name: `Transfer-Encoding ${JSON.stringify(te)} (not ending in chunked)`, bytes: post(`Transfer-Encoding: ${te}\r\n`, "5\r\nhello\r\n0\r\n\r\n"), status: 400 })),
  { name: "chunked twice in one field", bytes: post("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"), status: 400 },
  { name: "chunked twice in two fields", bytes: post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), status: 400 },
  ...["foo, chunked", "gzip, chunked"].map((te) => ({ name: `Transfer-Encoding ${JSON.stringify(te)} (unknown coding)`, bytes: post(`Transfer-Encoding: ${te}\r\n`, "5\r\nhello\r\n0\r\n\r\n"), status: 501, split: te === "gzip, chunked" })),
  { name: "two TE fields, gzip then chunked", bytes: post("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), status: 501 },
  { name: "chunked followed by U+00A0", bytes: post("Transfer-Encoding: chunked\xa0\r\n", "5\r\nhello\r\n0\r\n\r\n"), status: 400, split: true },
  { name: "U+00A0 then chunked", bytes: post("Transfer-Encoding: \xa0chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), status: 400 },
  { name: "Transfer-Encoding on HTTP/1.0", bytes: "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", status: 400 },
  // field lines
  { name: "obs-fold (SP)", bytes: get("Host: a\r\nX-A: b\r\n  c\r\n"), status: 400, split: true },
  { name: "obs-fold (HTAB)", bytes: get("Host: a\r\nX-A: b\r\n\tc\r\n"), status: 400 },
  { name: "obs-fold on the first field line", bytes: get(" Host: a\r\n"), status: 400 },
  { name: "whitespace before the colon", bytes: get("Host : a\r\n"), status: 400 },
  { name: "HTAB before a Content-Length colon", bytes: get("Host: a\r\nContent-Length\t: 0\r\n"), status: 400 },
  { name: "empty field name", bytes: get("Host: a\r\n: x\r\n"), status: 400 },
  { name: "non-token field name", bytes: get("Ho(st: a\r\n"), status: 400 },
  { name: "control char in a field name", bytes: get("Host: a\r\nX\x01Y: b\r\n"), status: 400 },
  { name: "field line without a colon", bytes: get("Host: a\r\nNoColon\r\n"), status: 400 },
  ...([["NUL", "\x00"], ["0x01", "\x01"], ["DEL", "\x7f"], ["bare CR", "\r"], ["0x1F", "\x1f"]] as const).map(([n, ch]) => ({ name: `${n} in a field value`, bytes: get(`Host: a\r\nX-A: b${ch}c\r\n`), status: 400 })),
  { name: "bare CR ending the request line", bytes: "GET / HTTP/1.1\rHost: a\r\n\r\n", status: 400 },
  { name: "bare CR ending a header line", bytes: "GET / HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n", status: 400, split: true },
  { name: "CR CR LF ending a header line", bytes: "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\r\n\r\n", status: 400 },
  { name: "bare CR as the empty line", bytes: "GET / HTTP/1.1\r\nHost: a\r\n\r", status: 400 },
  // Host
  { name: "missing Host on HTTP/1.1", bytes: get("X-A: b\r\n"), status: 400, split: true },
  { name: "repeated Host", bytes: get("Host: a\r\nHost: a\r\n"), status: 400 },
  { name: "two different Hosts", bytes: get("Host: a\r\nHost: b\r\n"), status: 400 },
  { name: "two Hosts on HTTP/1.0", bytes: "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", status: 400 },
  { name: "Host a/b", bytes: get("Host: a/b\r\n"), status: 400 },
  { name: "Host a@b", bytes: get("Host: a@b\r\n"), status: 400 },
  { name: "empty Host", bytes: get("Host:\r\n"), status: 400 },
  { name: "Host of whitespace only", bytes: get("Host:  \t\r\n"), status: 400 },
  { name: "Host with a port and no host", bytes: get("Host: :8080\r\n"), status: 400 },
  // request line
  ...BAD_REQUEST_LINES.map(([n, line]) => ({ name: n, bytes: `${line}\r\nHost: a\r\n\r\n`, status: 400 })),
  ...BAD_VERSIONS.map(([v, status]) => ({ name: `version ${v}`, bytes: `GET / ${v}\r\nHost: a\r\n\r\n`, status, split: v === "HTTP/2.0" || v === "HTTP/1.10" })),
  { name: "many leading empty lines", bytes: `${"\r\n".repeat(50)}GET / HTTP/1.1\r\nHost: a\r\n\r\n`, status: 400 },
  // Expect
  { name: "Expect other than 100-continue", bytes: post("Expect: 200-ok\r\nContent-Length: 5\r\n", "hello"), status: 417 },
  { name: "Expect: 100-continue, foo", bytes: get("Host: a\r\nExpect: 100-continue, foo\r\n"), status: 417, split: true },
  // limits
  { name: "request line over the limit", bytes: `${lineOf(101)}\r\nHost: a\r\n\r\n`, status: 414, split: true },
  { name: "request line far over the limit, no line end yet", bytes: `GET /${"a".repeat(5000)}`, status: 414 },
  { name: "header field over the limit", bytes: get(`Host: a\r\n${fieldOf(201)}\r\n`), status: 431 },
  { name: "header field far over the limit, no line end yet", bytes: get(`Host: a\r\nX-A: ${"b".repeat(20_000)}`), status: 431 },
  { name: "more fields than the limit", bytes: get(`Host: a\r\n${fields(10)}`), status: 431 },
  { name: "Content-Length over the body limit", bytes: post("Content-Length: 1001\r\n", "x".repeat(1001)), status: 413 },
  { name: "Content-Length too large to be a length", bytes: post("Content-Length: 99999999999999999999999\r\n", "x"), status: 400 },
  { name: "a 100 KB method", bytes: `${"M".repeat(100 * 1024)} / HTTP/1.1\r\nHost: a\r\n\r\n`, status: 400 },
  // chunked framing: the head is valid (the app is handed the request), the body is refused midway
  ...["zz", "", " 5", "5 ", "-5", "0x5", "+5", "5\t"].map((size) => ({ name: `chunk size ${JSON.stringify(size)}`, bytes: chunkedPost(`${size}\r\nhello\r\n0\r\n\r\n`), status: 400, appSees: true, split: size === "0x5" })),
  { name: "overflowing chunk size", bytes: chunkedPost("ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"), status: 400, appSees: true },
  { name: "chunk data not followed by CRLF", bytes: chunkedPost("5\r\nhelloX\r\n0\r\n\r\n"), status: 400, appSees: true },
  { name: "a chunk that says 3 and carries 5", bytes: chunkedPost("3\r\nhello\r\n0\r\n\r\n"), status: 400, appSees: true },
  { name: "bare LF after the chunk size", bytes: chunkedPost("5\nhello\r\n0\r\n\r\n"), status: 400, appSees: true },
  { name: "bare LF after the last-chunk size", bytes: chunkedPost("5\r\nhello\r\n0\n\r\n"), status: 400, appSees: true },
  { name: "bare LF after chunk data", bytes: chunkedPost("5\r\nhello\n0\r\n\r\n"), status: 400, appSees: true, split: true },
  { name: "bare CR after chunk data", bytes: chunkedPost("5\r\nhello\r0\r\n\r\n"), status: 400, appSees: true },
  { name: "bare LF ending the chunked body", bytes: chunkedPost("5\r\nhello\r\n0\r\n\n"), status: 400, appSees: true },
  { name: "bare LF ending a trailer line", bytes: chunkedPost("5\r\nhello\r\n0\r\nX-T: 1\n\r\n"), status: 400, appSees: true },
  ...([["NUL", "\x00"], ["0x01", "\x01"], ["LF", "\n"], ["DEL", "\x7f"]] as const).map(([n, ch]) => ({ name: `chunk extension with ${n}`, bytes: chunkedPost(`5;a=b${ch}c\r\nhello\r\n0\r\n\r\n`), status: 400, appSees: true })),
  ...[";", ";bad[=x", ";a=", ";a=b c", ';a="x', ";a=b;"].map((ext) => ({ name: `chunk extension 5${ext}`, bytes: chunkedPost(`5${ext}\r\nhello\r\n0\r\n\r\n`), status: 400, appSees: true })),
  { name: "trailer line with obs-fold", bytes: chunkedPost("5\r\nhello\r\n0\r\nX-T: 1\r\n 2\r\n\r\n"), status: 400, appSees: true },
  { name: "trailer line without a colon", bytes: chunkedPost("0\r\nXT\r\n\r\n"), status: 400, appSees: true, split: true },
  { name: "trailer with a control char", bytes: chunkedPost("5\r\nhello\r\n0\r\nX-T: a\x00b\r\n\r\n"), status: 400, appSees: true },
  { name: "bare LF head, then bare LF in the chunked framing", bytes: "POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n", status: 400, appSees: true },
  { name: "one chunk over the body limit", bytes: chunkedPost(`400\r\n${"y".repeat(1024)}\r\n0\r\n\r\n`), status: 413, appSees: true },
  { name: "chunks adding up past the body limit", bytes: chunkedPost(`258\r\n${"y".repeat(600)}\r\n258\r\n${"y".repeat(600)}\r\n0\r\n\r\n`), status: 413, appSees: true },
  { name: "too many trailer fields", bytes: chunkedPost(`0\r\n${fields(11)}\r\n`), status: 400, appSees: true },
];

/** Requests oryx accepts that llhttp alone would read otherwise or refuse: both kinds must answer them alike. */
export const ACCEPTED: Array<{ name: string; bytes: string; bodies: string[] }> = [
  { name: "two identical Content-Length fields", bytes: post("Content-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n", "hello"), bodies: ["ok / hello"] },
  { name: "Transfer-Encoding: Chunked (any case)", bytes: post("Transfer-Encoding: Chunked\r\nConnection: close\r\n", "5\r\nhello\r\n0\r\n\r\n"), bodies: ["ok / hello"] },
  { name: "bare LF line ends in the head", bytes: "GET /lf HTTP/1.1\nHost: a\nX-A: b\nConnection: close\n\n", bodies: ["ok /lf "] },
  { name: "bare LF and CRLF mixed", bytes: "GET / HTTP/1.1\r\nHost: a\nConnection: close\r\n\n", bodies: ["ok / "] },
  { name: "bare LF head, CRLF chunked body", bytes: "POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\nConnection: close\n\n5\r\nhello\r\n0\r\n\r\n", bodies: ["ok / hello"] },
  { name: "leading empty lines", bytes: "\r\n\r\n\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", bodies: ["ok / "] },
  { name: "HTTP/1.0 without Host", bytes: "GET / HTTP/1.0\r\n\r\n", bodies: ["ok / "] },
  { name: "chunk extensions and trailers", bytes: post("Transfer-Encoding: chunked\r\nConnection: close\r\n", '5;a=b;c="d e"\r\nhello\r\n6\r\n world\r\n0;x\r\nX-T: 1\r\nX-U: 2\r\n\r\n'), bodies: ["ok / hello world"] },
  { name: "request line at the limit", bytes: `${lineOf(100)}\r\nHost: a\r\nConnection: close\r\n\r\n`, bodies: [`ok /${"a".repeat(100 - "GET / HTTP/1.1".length)} `] },
  { name: "header field at the limit", bytes: get(`Host: a\r\n${fieldOf(200)}\r\nConnection: close\r\n`), bodies: ["ok / "] },
  { name: "exactly the field limit", bytes: get(`Host: a\r\nConnection: close\r\n${fields(8)}`), bodies: ["ok / "] },
  { name: "a body at the limit, chunked", bytes: post("Transfer-Encoding: chunked\r\nConnection: close\r\n", `3e8\r\n${"y".repeat(1000)}\r\n0\r\n\r\n`), bodies: [`ok / ${"y".repeat(1000)}`] },
  { name: "pipelined requests with bare LF heads", bytes: "GET /1 HTTP/1.1\nHost: a\n\nGET /2 HTTP/1.1\nHost: a\nConnection: close\n\n", bodies: ["ok /1 ", "ok /2 "] },
  { name: "pipelined after an accepted request: a body, then a chunked one", bytes: `${post("Content-Length: 3\r\n", "abc")}POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`, bodies: ["ok / abc", "ok /c x", "ok /3 "] },
  { name: "Connection: close, then a pipelined request that is never read", bytes: "GET /first HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n", bodies: ["ok /first "] },
];
