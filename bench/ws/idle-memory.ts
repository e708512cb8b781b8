/**
 * Memory per idle WebSocket on oryx (issue 17's goal: ≤ 4 KiB with 10,000 held): the RSS of one worker before
 * and after COUNT idle sockets, divided by COUNT, each read after a full garbage collection (gc-on-signal.mjs,
 * SIGUSR2), so what is counted is what the open sockets hold, not the handshakes' garbage; the figure without
 * that collection is printed too. `idle-http` does the same with keep-alive HTTP connections (one GET each), for
 * scale. Needs dist/ (npm run build).
 *
 *   node --import tsx bench/ws/idle-memory.ts [ws|idle-http] [COUNT]
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { childPids, freePort, rssKiB, sleep } from "../procs.ts";
import { openMany } from "./clients.ts";

const http = process.argv[2] === "idle-http";
const count = Number(process.argv[3] ?? 10_000);
const port = await freePort();
// A long keep-alive timeout, so idle HTTP connections stay while measured.
const args = ["dist/cli.js", "bench/servers/ws-app.ts", "-w", "1", "-b", `127.0.0.1:${port}`, "--log-level", "warning", "--keep-alive-timeout", "60"];
const preload = fileURLToPath(new URL("./gc-on-signal.mjs", import.meta.url));
const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --expose-gc --import ${preload}` };
const master = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"], env });
/** The worker's RSS after a full collection. */
async function rssAfterGc(pid: number): Promise<number> {
  process.kill(pid, "SIGUSR2");
  await sleep(1000);
  return rssKiB(pid)!;
}
try {
  let worker: number | undefined;
  for (let i = 0; i < 200 && worker === undefined; i++) {
    await sleep(100);
    const up = await new Promise<boolean>((r) => net.connect(port, "127.0.0.1").on("connect", function (this: net.Socket) { this.destroy(); r(true); }).on("error", () => r(false)));
    // The worker: the master's child running worker-main (not a helper process it may have started).
    if (up) worker = childPids(master.pid!).find((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("worker-main"));
  }
  if (worker === undefined) throw new Error("oryx did not start");
  // Warm the worker with a few sockets first, so the baseline includes the code paths' own memory.
  for (const s of await openMany(port, "/echo", 50, 50, http)) s.destroy();
  await sleep(1000);
  const beforeRaw = rssKiB(worker)!;
  const before = await rssAfterGc(worker);
  const sockets = await openMany(port, "/echo", count, 500, http);
  await sleep(3000);
  const afterRaw = rssKiB(worker)!;
  const after = await rssAfterGc(worker);
  const what = http ? "idle keep-alive HTTP connections" : "idle WebSockets";
  console.log(
    `oryx worker RSS after a full GC: ${before} KiB before, ${after} KiB with ${count} ${what}: ${((after - before) / count).toFixed(2)} KiB each ` +
      `(without the GC: ${beforeRaw} → ${afterRaw} KiB, ${((afterRaw - beforeRaw) / count).toFixed(2)} KiB each)`,
  );
  for (const s of sockets) s.destroy();
} finally {
  master.kill("SIGTERM");
  await new Promise((r) => master.once("exit", r));
}
