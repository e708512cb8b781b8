/**
 * Is a function a fetch handler `(request, info)` or a Node listener `(req, res)`? Arity alone cannot tell
 * `(req, info)` from `(req, res)`, so oryx reads the declared parameter names from the function's source.
 */

/** Second-parameter names that mean a Node listener `(req, res)` (compared lowercase, leading underscores off). */
const NODE_NAMES = new Set(["res", "response", "resp", "reply", "serverresponse"]);
/** Second-parameter names that mean a fetch handler `(request, info)`: Deno's info, Bun's server, Workers' env. */
const FETCH_NAMES = new Set(["info", "ctx", "context", "env", "server", "conninfo", "conn"]);

export interface FunctionKind {
  kind: "fetch" | "node";
  /** Why, for the debug log. */
  why: string;
  /** Decided by default (two parameters whose names say nothing): the 500-with-a-hint safety net applies. */
  ambiguous: boolean;
}

/**
 * Tells a fetch handler from a Node listener, in this order: Express and Connect apps (functions with `use` and
 * `handle`) are Node; three or more declared parameters are Node (`(req, res, next)`); a second parameter named
 * like a response (res, response, resp, reply, serverResponse) is Node, one named like the fetch handler's
 * second argument (info, ctx, context, env, server, connInfo, conn) is fetch; at most one declared parameter is
 * fetch; anything else (`(e, t)` of minified code, a destructured second parameter) is Node by default.
 */
export function classifyFunction(fn: Function): FunctionKind {
  const f = fn as Function & { use?: unknown; handle?: unknown };
  if (typeof f.use === "function" && typeof f.handle === "function") {
    return { kind: "node", why: "it has use() and handle(), as Express and Connect apps do", ambiguous: false };
  }
  if (fn.length >= 3) return { kind: "node", why: `it declares ${fn.length} parameters, as (req, res, next)`, ambiguous: false };
  const params = parameterNames(fn);
  const second = params?.[1];
  if (typeof second === "string") {
    // Leading underscores (unused), and the digits esbuild appends to a name that shadows another (info2).
    const name = second.replace(/^_+/, "").replace(/\d+$/, "").toLowerCase();
    if (NODE_NAMES.has(name)) return { kind: "node", why: `its second parameter is named ${second}`, ambiguous: false };
    if (FETCH_NAMES.has(name)) return { kind: "fetch", why: `its second parameter is named ${second}`, ambiguous: false };
  }
  if (fn.length <= 1) return { kind: "fetch", why: `it declares ${fn.length === 0 ? "no parameters" : "one parameter"}`, ambiguous: false };
  const names = params === null ? "whose names oryx could not read" : `(${params.map((p) => p ?? "{…}").join(", ")})`;
  return {
    kind: "node",
    why: `it declares two parameters ${names}, which do not say whether it is (req, res) or (request, info): taken for (req, res)`,
    ambiguous: true,
  };
}

/**
 * The declared parameter names of a function, from its source text (`Function.prototype.toString`): arrows,
 * `function`, async, generators and methods; a default value is skipped, a destructured parameter is null.
 * Null when the source cannot be read this way (native or bound functions, classes, unusual syntax).
 */
export function parameterNames(fn: Function): Array<string | null> | null {
  let src: string;
  try {
    src = Function.prototype.toString.call(fn);
  } catch {
    return null;
  }
  // Native and bound functions show no parameters: `function max() { [native code] }`.
  if (/\{\s*\[native code\]\s*\}\s*$/.test(src)) return null;
  let i = skipSpace(src, 0);
  const word = (w: string, at: number): boolean => src.startsWith(w, at) && !isIdentifierChar(src[at + w.length]);
  if (word("class", i)) return null;
  if (word("async", i)) {
    const j = skipSpace(src, i + 5);
    // `async => …` is an arrow whose parameter is named async.
    if (!src.startsWith("=>", j)) i = j;
  }
  if (word("function", i)) {
    i = skipSpace(src, i + 8);
    if (src[i] === "*") i = skipSpace(src, i + 1);
    const name = identifierAt(src, i);
    if (name !== null) i = skipSpace(src, i + name.length);
  } else if (src[i] !== "(") {
    // `x => …`, or a method: `name(…) { … }`, `*name(…)`.
    if (src[i] === "*") i = skipSpace(src, i + 1);
    const name = identifierAt(src, i);
    if (name === null) return null;
    const j = skipSpace(src, i + name.length);
    if (src.startsWith("=>", j)) return [name];
    i = j;
  }
  if (src[i] !== "(") return null;
  const parts = splitParameters(src, i);
  if (parts === null) return null;
  const names: Array<string | null> = [];
  for (const raw of parts) {
    let p = raw.trim();
    if (p === "") continue; // a trailing comma
    if (p.startsWith("...")) p = p.slice(3).trim();
    if (p.startsWith("{") || p.startsWith("[")) {
      names.push(null);
      continue;
    }
    const name = identifierAt(p, 0);
    if (name === null) return null;
    const after = p.slice(name.length).trim();
    if (after !== "" && !after.startsWith("=")) return null;
    names.push(name);
  }
  return names;
}

/** The top-level, comma-separated parts between the parenthesis at `open` and its match, comments left out. */
function splitParameters(src: string, open: number): string[] | null {
  const parts: string[] = [];
  let current = "";
  let depth = 0;
  let i = open;
  while (i < src.length) {
    const c = src[i]!;
    if (c === "/" && src[i + 1] === "/") {
      const end = src.indexOf("\n", i);
      if (end < 0) return null;
      i = end;
      continue;
    }
    if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      if (end < 0) return null;
      i = end + 2;
      current += " ";
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      const end = skipString(src, i);
      if (end < 0) return null;
      current += src.slice(i, end);
      i = end;
      continue;
    }
    if (c === "(" || c === "[" || c === "{") {
      depth++;
      if (depth > 1) current += c;
    } else if (c === ")" || c === "]" || c === "}") {
      depth--;
      if (depth === 0) {
        parts.push(current);
        return parts;
      }
      current += c;
    } else if (c === "," && depth === 1) {
      parts.push(current);
      current = "";
    } else {
      current += c;
    }
    i++;
  }
  return null;
}

/** The index just past the string or template literal starting at `i`, or -1. */
function skipString(src: string, i: number): number {
  const quote = src[i]!;
  let j = i + 1;
  while (j < src.length) {
    const c = src[j]!;
    if (c === "\\") {
      j += 2;
      continue;
    }
    if (c === quote) return j + 1;
    if (quote === "`" && c === "$" && src[j + 1] === "{") {
      // A substitution: skip to its matching brace, strings within included.
      let depth = 1;
      j += 2;
      while (j < src.length && depth > 0) {
        const d = src[j]!;
        if (d === '"' || d === "'" || d === "`") {
          j = skipString(src, j);
          if (j < 0) return -1;
          continue;
        }
        if (d === "{") depth++;
        else if (d === "}") depth--;
        j++;
      }
      continue;
    }
    j++;
  }
  return -1;
}

function skipSpace(src: string, i: number): number {
  for (;;) {
    while (i < src.length && /\s/.test(src[i]!)) i++;
    if (src.startsWith("//", i)) {
      const end = src.indexOf("\n", i);
      i = end < 0 ? src.length : end;
    } else if (src.startsWith("/*", i)) {
      const end = src.indexOf("*/", i + 2);
      i = end < 0 ? src.length : end + 2;
    } else {
      return i;
    }
  }
}

function identifierAt(src: string, i: number): string | null {
  return /^[A-Za-z_$][\w$]*/.exec(src.slice(i, i + 256))?.[0] ?? null;
}

function isIdentifierChar(c: string | undefined): boolean {
  return c !== undefined && /[\w$]/.test(c);
}
