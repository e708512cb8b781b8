/**
 * `oryx bench URL [options]`: parse, refuse a non-loopback target, run (load or client3 mode), report.
 * Returns the exit code: 0 the run finished, 2 a usage error or a refused target (one sentence on stderr).
 */
import { BENCH_HELP, BenchUsageError, parseBenchArgs, type LoadOptions } from "./args.ts";
import { formatClient3, runClient3 } from "./client3.ts";
import { buildReport, formatProgress, formatReport } from "./report.ts";
import { requestBytes } from "./request.ts";
import { runLoad } from "./run.ts";
import { resolveTarget, type ResolvedTarget } from "./target.ts";

/** Where output goes (tests pass their own). */
export interface BenchIO {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown };
}

export async function benchMain(argv: string[], io: BenchIO = process): Promise<number> {
  try {
    const cmd = parseBenchArgs(argv);
    if (cmd.mode === "help") {
      io.stdout.write(BENCH_HELP);
      return 0;
    }
    const target = await resolveTarget(cmd.target, cmd.allowRemote);
    const request = requestBytes(cmd.target, cmd.request);
    if (cmd.mode === "client3") {
      const report = await runClient3(cmd, target.address, request);
      io.stdout.write(cmd.json ? `${JSON.stringify(report)}\n` : formatClient3(report));
      return 0;
    }
    return await load(cmd, target, request, io);
  } catch (err) {
    if (err instanceof BenchUsageError) {
      io.stderr.write(`oryx bench: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

async function load(opts: LoadOptions, target: ResolvedTarget, request: Buffer, io: BenchIO): Promise<number> {
  const run = runLoad(
    {
      address: target.address,
      port: target.port,
      request,
      headRequests: opts.request.method === "HEAD",
      connections: opts.connections,
      pipelining: opts.pipelining,
      durationMs: opts.duration === null ? null : opts.duration * 1000,
      requests: opts.requests,
      rate: opts.rate,
      timeoutMs: opts.timeout * 1000,
      warmupMs: opts.warmup * 1000,
    },
    opts.threads,
  );
  const live = !opts.json && io.stdout.isTTY === true;
  let ticker: NodeJS.Timeout | null = null;
  if (live) {
    let seconds = 0;
    let last = 0;
    ticker = setInterval(() => {
      const p = run.progress();
      seconds++;
      io.stdout.write(`\r\x1b[K${formatProgress(seconds, p.responses, p.responses - last, p.errors)}`);
      last = p.responses;
    }, 1000);
  }
  try {
    const merged = await run.result;
    const report = buildReport(opts, merged);
    if (live) io.stdout.write("\r\x1b[K");
    io.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : formatReport(report));
    return 0;
  } finally {
    if (ticker !== null) clearInterval(ticker);
  }
}
