// A config file: `oryx -c examples/oryx.config.ts` (from the repository's root), or check it without serving:
// `oryx --check-config -c examples/oryx.config.ts`. In your own project, import from "oryx" instead.
// Flags and ORYX_* variables override what is set here; what is not set keeps its default.
import { defineConfig } from "../src/index.ts";

export default defineConfig({
  // MODULE[:EXPORT], relative to the working directory; a MODULE on the command line wins.
  app: "examples/hello.ts",
  bind: ["127.0.0.1:8888"],
  workers: process.env.NODE_ENV === "production" ? "auto" : 1,
  // Durations: a number is seconds, a string may take a unit.
  keepAliveTimeout: 5,
  headerTimeout: "10s",
  gracefulTimeout: "30s",
  // Sizes: a number is bytes, a string may take a unit (powers of 1024).
  limitRequestBody: "16MiB",
  limitRequestLine: 8192,
  maxRequests: 10_000,
  maxRequestsJitter: 500,
  serverHeader: "oryx",
  accessLog: "-",
  logLevel: "info",
  // Only used for unix: binds. A number is the mode itself: write it in octal.
  unixSocketMode: 0o660,
});
