/**
 * Makes a lazy stand-in class pass for a native one (undici's Request or Response): every member of the
 * native prototype the stand-in does not define itself, and every internal symbol slot undici reads, is
 * forwarded to the real object the stand-in builds on demand; then the prototype chain and the toStringTag
 * make `instanceof` and `Object.prototype.toString` agree.
 */
export function forwardToReal(
  standIn: { prototype: object },
  native: { prototype: object; name: string },
  nativeSample: object,
  realOf: (self: object) => object,
): void {
  const proto = standIn.prototype;
  const own = new Set(Object.getOwnPropertyNames(proto));
  for (const key of Object.getOwnPropertyNames(native.prototype)) {
    if (own.has(key)) continue;
    const desc = Object.getOwnPropertyDescriptor(native.prototype, key)!;
    if (typeof desc.value === "function") {
      Object.defineProperty(proto, key, {
        configurable: true,
        writable: true,
        value(this: object, ...args: unknown[]) {
          const real = realOf(this) as Record<string, (...a: unknown[]) => unknown>;
          return real[key]!(...args);
        },
      });
    } else if (desc.get !== undefined) {
      Object.defineProperty(proto, key, {
        configurable: true,
        get(this: object) {
          return (realOf(this) as Record<string, unknown>)[key];
        },
      });
    }
  }
  for (const sym of Object.getOwnPropertySymbols(nativeSample)) {
    Object.defineProperty(proto, sym, {
      configurable: true,
      get(this: object) {
        return (realOf(this) as Record<symbol, unknown>)[sym];
      },
    });
  }
  Object.defineProperty(proto, Symbol.toStringTag, { value: native.name, configurable: true });
  Object.setPrototypeOf(proto, native.prototype);
}
