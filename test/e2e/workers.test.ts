/**
 * The master and its workers as whole processes: real signals (TERM, QUIT, HUP, TTIN, TTOU, USR1, KILL), real
 * clients, and the processes as /proc sees them. Each test starts its own oryx on a free port; every process is
 * killed by pid in `after` (and a worker that outlived its master fails the run). Timings are asserted as
 * orderings or with generous bounds, never tightly.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ensureBuilt, ROOT, runCli } from "../support/cli.ts";
import { accepted, cleanup, failureSummary, fdBaseline, type Hit, hit, launch, load, LOCAL, stop, workersGone } from "../support/pool.ts";
import { alive, children, procStat, signal } from "../support/proc.ts";
import { sleep, until, within } from "../support/wait.ts";

const FIXTURE_VERSION = path.join(ROOT, "test", "fixtures", "reload-version.ts");
const BROKEN = 'throw new Error("reload-fixture-broken");\nexport default { fetch: () => new Response("never") };\n';

/** A copy of the reload fixture in a fresh temporary directory, answering "v1 PID". */
function tempApp(): { dir: string; file: string; write(version: string): void; break(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "oryx-workers-"));
  const file = path.join(dir, "app.ts");
  copyFileSync(FIXTURE_VERSION, file);
  // As in the repository: .ts files are ES modules here (outside a "type": "module" package, tsx loads them as
  // CommonJS, and the default export would sit under module.exports.default).
  writeFileSync(path.join(dir, "package.json"), '{ "type": "module" }\n');
  const original = readFileSync(FIXTURE_VERSION, "utf8");
  assert.match(original, /const VERSION = "v1";/);
  return {
    dir,
    file,
    write: (version) => writeFileSync(file, original.replace('const VERSION = "v1";', `const VERSION = "${version}";`)),
    break: () => writeFileSync(file, BROKEN),
  };
}

const dirs: string[] = [];

before(ensureBuilt);

after(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await cleanup();
});

describe("the worker pool under signals", { concurrency: false }, () => {
  test("SIGTERM: a slow request in flight completes with 200, the master exits 0, no worker is left", async () => {
    const o = await launch(["examples/sleep.ts", "-w", "2", ...LOCAL]);
    const workers = o.workers();
    assert.equal(workers.length, 2, `two workers: ${JSON.stringify(children(o.pid))}`);
    const base = fdBaseline(o);
    const slow = hit(o.port, "/?ms=1500", { timeoutMs: 10_000 });
    await accepted(base, 5000);
    await sleep(100);
    const termAt = performance.now();
    signal(o.pid, "SIGTERM");
    const r = await slow;
    assert.ok(r.ok, `the slow request failed: ${r.error}`);
    assert.equal(r.status, 200);
    assert.equal(r.body, "slept 1500 ms\n");
    assert.ok(r.responseAt > termAt, "the response came after the signal (it was in flight)");
    const exit = await within(o.exited, 10_000, "the master did not exit after SIGTERM");
    assert.deepEqual(exit, { code: 0, signal: null }, o.stderr());
    assert.deepEqual(await workersGone(o, 3000), [], "workers left behind after the master's exit");
    for (const w of workers) assert.equal(alive(w), false, `worker ${w} still exists`);
  });

  test("SIGQUIT: fast stop, exit 0 at once, the slow request in flight is cut", async () => {
    const o = await launch(["examples/sleep.ts", "-w", "2", ...LOCAL]);
    const base = fdBaseline(o);
    const slow = hit(o.port, "/?ms=20000", { timeoutMs: 25_000 });
    await accepted(base, 5000);
    await sleep(100);
    const quitAt = performance.now();
    signal(o.pid, "SIGQUIT");
    const exit = await within(o.exited, 5000, "the master did not exit promptly after SIGQUIT");
    assert.deepEqual(exit, { code: 0, signal: null }, o.stderr());
    const r = await within(slow, 5000, "the slow request was not cut");
    assert.equal(r.ok, false, "the slow request was not expected to complete");
    assert.ok(performance.now() - quitAt < 10_000, "the slow request was cut, not finished");
    assert.match(o.stderr(), /SIGQUIT: stopping now/);
    assert.deepEqual(await workersGone(o, 3000), []);
  });

  test("--pid FILE holds the master's pid while it runs and is removed at exit", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "oryx-pid-"));
    dirs.push(dir);
    const file = path.join(dir, "oryx.pid");
    const o = await launch(["examples/hello.ts", "-w", "2", ...LOCAL, "--pid", file]);
    assert.equal(readFileSync(file, "utf8"), `${o.pid}\n`);
    assert.deepEqual(await stop(o), { code: 0, signal: null });
    assert.equal(existsSync(file), false, "the pid file is still there after exit");
  });

  test("SIGUSR1 with --access-log FILE: after a rename, every worker reopens FILE and logs there", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "oryx-usr1-"));
    dirs.push(dir);
    const file = path.join(dir, "access.log");
    const rotated = `${file}.1`;
    const o = await launch(["examples/hello.ts", "-w", "2", ...LOCAL, "--access-log", file]);
    try {
      assert.ok((await hit(o.port, "/before-rotate")).ok);
      await until(() => existsSync(file) && readFileSync(file, "utf8").includes("/before-rotate"), 5000, "the first access line");
      renameSync(file, rotated);
      const workers = o.workers();
      /** The access-log paths a worker holds open, as /proc shows them. */
      const logFds = (pid: number): string[] =>
        readdirSync(`/proc/${pid}/fd`)
          .map((fd) => {
            try {
              return readlinkSync(`/proc/${pid}/fd/${fd}`);
            } catch {
              return "";
            }
          })
          .filter((t) => t === file || t === rotated);
      for (const w of workers) assert.deepEqual(logFds(w), [rotated], `worker ${w} writes to the renamed file before USR1`);
      signal(o.pid, "SIGUSR1");
      await o.waitLog(/SIGUSR1: reopening log files/, 5000);
      await until(
        () => workers.every((w) => { const f = logFds(w); return f.length === 1 && f[0] === file; }),
        5000,
        "every worker to hold the new file (and not the renamed one)",
        () => workers.map((w) => `${w}: ${logFds(w).join(", ")}`).join("; "),
      );
      for (let i = 0; i < 10; i++) assert.ok((await hit(o.port, `/after-rotate-${i}`)).ok);
      await until(() => (readFileSync(file, "utf8").match(/\/after-rotate-\d/g) ?? []).length === 10, 5000, "ten lines in the new file");
      const old = readFileSync(rotated, "utf8");
      assert.match(old, /\/before-rotate/);
      assert.doesNotMatch(old, /after-rotate/, "lines after USR1 went to the renamed file");
    } finally {
      await stop(o);
    }
  });

  test("iterative: -w 1 --worker-connections 1 serves two simultaneous 1 s requests one after the other", async () => {
    const o = await launch(["examples/sleep.ts", "-w", "1", "--worker-connections", "1", ...LOCAL]);
    try {
      const rs = await Promise.all([hit(o.port, "/?ms=1000"), hit(o.port, "/?ms=1000")]);
      for (const r of rs) assert.ok(r.ok && r.body === "slept 1000 ms\n", `a request failed: ${r.error} ${r.body}`);
      const [first, second] = rs.sort((a, b) => a.responseAt - b.responseAt) as [Hit, Hit];
      const gap = second.responseAt - first.responseAt;
      const total = second.responseAt - Math.min(first.startedAt, second.startedAt);
      assert.ok(gap >= 900, `the second response came ${gap.toFixed(0)} ms after the first: it was served concurrently`);
      assert.ok(total >= 1900, `both took ${total.toFixed(0)} ms in total, expected about 2 s`);
    } finally {
      await stop(o);
    }
  });

  test("concurrent: with the defaults the two 1 s requests overlap", async () => {
    const o = await launch(["examples/sleep.ts", ...LOCAL]);
    try {
      const rs = await Promise.all([hit(o.port, "/?ms=1000"), hit(o.port, "/?ms=1000")]);
      for (const r of rs) assert.ok(r.ok && r.body === "slept 1000 ms\n", `a request failed: ${r.error} ${r.body}`);
      const [first, second] = rs.sort((a, b) => a.responseAt - b.responseAt) as [Hit, Hit];
      const gap = second.responseAt - first.responseAt;
      const total = second.responseAt - Math.min(first.startedAt, second.startedAt);
      assert.ok(gap < 600, `the responses came ${gap.toFixed(0)} ms apart: the second waited for the first`);
      assert.ok(total < 1900, `both took ${total.toFixed(0)} ms in total, expected about 1 s`);
    } finally {
      await stop(o);
    }
  });

  test("SIGTTIN / SIGTTOU: the live workers go 1 → 2 → 3 → 2, the oldest goes first", async () => {
    const o = await launch(["examples/hello.ts", "-w", "1", ...LOCAL]);
    try {
      const [first] = o.workers();
      assert.equal(o.workers().length, 1);
      const expect = async (n: number, what: string): Promise<void> => {
        await until(() => o.workers().length === n, 15_000, `${n} live workers after ${what}`, () => JSON.stringify(children(o.pid)));
        // Stays there: no extra spawns or stops follow.
        await sleep(1200);
        assert.equal(o.workers().length, n, `the pool did not stay at ${n} after ${what}: ${JSON.stringify(children(o.pid))}`);
        assert.ok((await hit(o.port, "/")).ok, `a request after ${what}`);
      };
      signal(o.pid, "SIGTTIN");
      await expect(2, "the first SIGTTIN");
      signal(o.pid, "SIGTTIN");
      await expect(3, "the second SIGTTIN");
      signal(o.pid, "SIGTTOU");
      await expect(2, "SIGTTOU");
      assert.equal(alive(first!), false, `the oldest worker ${first} was expected to go`);
      assert.match(o.stderr(), /SIGTTIN: 2 worker\(s\) wanted/);
      assert.match(o.stderr(), /SIGTTIN: 3 worker\(s\) wanted/);
      assert.match(o.stderr(), /SIGTTOU: 2 worker\(s\) wanted/);
      assert.ok(o.stderr().includes(`stopping worker ${first} (2 wanted)`), o.stderr());
    } finally {
      await stop(o);
    }
  });

  test("the master is killed (-9): its workers exit within seconds and the port is free again", async () => {
    const o = await launch(["examples/hello.ts", "-w", "2", ...LOCAL]);
    const workers = o.workers();
    assert.equal(workers.length, 2);
    signal(o.pid, "SIGKILL");
    await within(o.exited, 5000, "the master did not die");
    assert.deepEqual(await workersGone(o, 8000), [], "workers outlived their master");
    const next = await launch(["examples/hello.ts", "-b", `127.0.0.1:${o.port}`]);
    try {
      assert.equal(next.port, o.port);
      const r = await hit(next.port, "/");
      assert.ok(r.ok && r.body === "Hello, World!", r.error);
    } finally {
      await stop(next);
    }
  });
});

describe("the worker pool under failures", { concurrency: false }, () => {
  test("a worker killed (-9) under steady load: a new child serves within 2 s; only requests in flight on it may fail", async () => {
    const o = await launch(["test/fixtures/pid.ts", "-w", "2", ...LOCAL]);
    try {
      const old = o.workers();
      assert.equal(old.length, 2);
      const LOOPS = 4;
      const l = load(o.port, LOOPS, "/");
      await sleep(1000);
      const victim = old[0]!;
      const logFrom = o.stderr().length;
      const killAt = performance.now();
      signal(victim, "SIGKILL");
      await o.waitLog(new RegExp(`worker ${victim} was killed by SIGKILL; starting a replacement`), 5000, "the exit line", logFrom);
      const ready = await o.waitLog(/worker (\d+) is ready/, 10_000, "the replacement's ready line", logFrom);
      const readyAfter = performance.now() - killAt;
      const fresh = Number(ready[1]);
      assert.ok(!old.includes(fresh), "the replacement has a new pid");
      assert.equal(procStat(fresh)?.ppid, o.pid, "the replacement is a child of the master");
      assert.ok(readyAfter <= 2000, `the replacement was accepting ${readyAfter.toFixed(0)} ms after the kill (2 s allowed)`);
      await until(() => l.results.some((r) => r.ok && r.body === String(fresh)), 10_000, `a response from the replacement ${fresh}`);
      await sleep(500);
      const results = await l.stop();
      // Each loop has at most one request in flight, so at most LOOPS requests were on the dead worker when it
      // died; any request started after the kill (with 100 ms for the signal to land) must succeed.
      const failed = results.filter((r) => !r.ok);
      assert.ok(failed.length <= LOOPS, `${failed.length} failures (${failureSummary(results)}); at most ${LOOPS} were in flight`);
      const late = failed.filter((r) => r.startedAt > killAt + 100);
      assert.equal(late.length, 0, `requests started after the kill failed: ${failureSummary(late)}`);
      assert.ok(results.filter((r) => r.ok).length > 20, `too few requests to mean anything: ${results.length}`);
      for (const r of results) if (r.ok) assert.ok([...old, fresh].includes(Number(r.body)), `an answer from an unknown pid ${r.body}`);
      assert.equal(o.workers().length, 2);
      assert.equal(alive(victim), false);
    } finally {
      await stop(o);
    }
  });

  test("SIGHUP under load (50 connections busy): zero failed requests, then only the new code answers", async () => {
    const app = tempApp();
    dirs.push(app.dir);
    const o = await launch([app.file, "-w", "2", ...LOCAL]);
    try {
      const old = o.workers();
      assert.equal(old.length, 2);
      const l = load(o.port, 50, "/");
      await sleep(1500);
      app.write("v2");
      const logFrom = o.stderr().length;
      const hupAt = performance.now();
      signal(o.pid, "SIGHUP");
      await o.waitLog(/SIGHUP: reloading/, 5000, "the reload line", logFrom);
      for (const w of old) await o.waitLog(new RegExp(`stopping old worker ${w} \\(reload\\)`), 30_000, `old worker ${w} to be stopped`, logFrom);
      await until(() => old.every((w) => !alive(w)), 20_000, "the old workers to exit");
      const oldGoneAt = performance.now();
      await sleep(1500);
      const results = await l.stop();
      const failed = results.filter((r) => !r.ok);
      assert.equal(
        failed.length,
        0,
        `failed requests during the reload: ${failureSummary(results)}; started at ` +
          `${failed.map((r) => `${(r.startedAt - hupAt).toFixed(0)} ms`).join(", ")} after SIGHUP (old workers gone at ` +
          `${(oldGoneAt - hupAt).toFixed(0)} ms); log:\n${o.stderr().slice(logFrom)}`,
      );
      assert.ok(results.length > 200, `too few requests to mean anything: ${results.length}`);
      const answers = results.map((r) => r.body.split(" ") as [string, string]);
      for (const [version, pid] of answers) {
        if (version === "v1") assert.ok(old.includes(Number(pid)), `v1 from ${pid}, not an old worker`);
        else assert.ok(version === "v2" && !old.includes(Number(pid)), `"${version} ${pid}" after the reload`);
      }
      assert.ok(answers.some(([v]) => v === "v1"), "no request was served by the old code");
      assert.ok(answers.some(([v]) => v === "v2"), "no request was served by the new code under load");
      for (const r of results) if (r.startedAt > oldGoneAt) assert.match(r.body, /^v2 /);
      const now = o.workers();
      assert.equal(now.length, 2, JSON.stringify(children(o.pid)));
      for (let i = 0; i < 10; i++) {
        const r = await hit(o.port, "/");
        assert.ok(r.ok, r.error);
        const [version, pid] = r.body.split(" ");
        assert.equal(version, "v2");
        assert.ok(now.includes(Number(pid)), `answered by ${pid}, not one of the new workers ${now.join(", ")}`);
      }
    } finally {
      await stop(o);
    }
  });

  test("SIGHUP with code that does not load: the old workers keep serving; a fixed file then reloads", async () => {
    const app = tempApp();
    dirs.push(app.dir);
    const o = await launch([app.file, "-w", "2", ...LOCAL]);
    try {
      const old = o.workers();
      app.break();
      let logFrom = o.stderr().length;
      signal(o.pid, "SIGHUP");
      await o.waitLog(/reload failed: the new worker \d+ exited with code 4 while loading the app; the old workers keep serving/, 30_000, "the failed reload line", logFrom);
      assert.match(o.stderr().slice(logFrom), /reload-fixture-broken/, "the app's error is logged");
      await sleep(1500);
      assert.deepEqual(o.workers(), old, "the old workers are still the pool");
      for (let i = 0; i < 10; i++) {
        const r = await hit(o.port, "/");
        assert.ok(r.ok, r.error);
        assert.match(r.body, /^v1 /);
        assert.ok(old.includes(Number(r.body.split(" ")[1])));
      }
      assert.equal(o.proc.exitCode, null, "the master is still running");
      // The next reload with good code goes through.
      app.write("v2");
      logFrom = o.stderr().length;
      signal(o.pid, "SIGHUP");
      await until(() => old.every((w) => !alive(w)), 30_000, "the old workers to be replaced", () => o.stderr().slice(logFrom));
      await until(() => o.workers().length === 2, 10_000, "two workers");
      const r = await hit(o.port, "/");
      assert.ok(r.ok, r.error);
      assert.match(r.body, /^v2 /);
    } finally {
      await stop(o);
    }
  });

  test("--timeout 2: a worker stuck in a busy loop is killed and replaced, the log says which and why; others serve", async () => {
    const o = await launch(["test/fixtures/busy.ts", "-w", "2", "--timeout", "2", ...LOCAL]);
    try {
      const old = o.workers();
      assert.equal(old.length, 2);
      const logFrom = o.stderr().length;
      const base = fdBaseline(o);
      const spin = hit(o.port, "/spin", { timeoutMs: 30_000 });
      // Let one worker take /spin and get stuck before other clients come (so none of theirs land on it).
      const spinning = await accepted(base, 5000);
      await sleep(500);
      const l = load(o.port, 2, "/", { pauseMs: 20 });
      const m = await o.waitLog(/worker (\d+) did not answer for ([\d.]+)s \(--timeout 2s; an app stuck in a busy loop\?\); killing it/, 15_000, "the heartbeat line", logFrom);
      const stuck = Number(m[1]);
      assert.equal(stuck, spinning, `the killed worker ${stuck} is the one that took /spin (${spinning})`);
      assert.ok(Number(m[2]) >= 2, `it was killed after ${m[2]} s without a heartbeat`);
      const s = await within(spin, 10_000, "the /spin connection was not cut");
      assert.equal(s.ok, false, "the /spin request cannot have been answered");
      await until(() => !alive(stuck), 5000, `worker ${stuck} to be gone`);
      await until(() => o.workers().length === 2 && o.workers().some((w) => !old.includes(w)), 15_000, "a replacement", () => JSON.stringify(children(o.pid)));
      await sleep(500);
      const results = await l.stop();
      assert.equal(results.filter((r) => !r.ok).length, 0, `other requests failed: ${failureSummary(results)}`);
      assert.ok(results.length > 5, `too few requests: ${results.length}`);
      assert.ok(results.every((r) => Number(r.body) !== stuck), "the stuck worker answered a request");
    } finally {
      await stop(o);
    }
  });

  test("an app that fails to load at start, with -w 3: exit 4 and its message once", async () => {
    const r = await runCli(["test/fixtures/throws.ts", "-w", "3", ...LOCAL], { timeoutMs: 30_000 });
    assert.equal(r.code, 4, r.stderr);
    assert.equal((r.stderr.match(/cannot load the app/g) ?? []).length, 1, `the message appears more than once:\n${r.stderr}`);
    assert.match(r.stderr, /fixture exploded while loading/);
    assert.doesNotMatch(r.stderr, /serving/);
  });

  test("a module broken after start: a killed worker's replacements fail, the master backs off and exits 5 after 5 in a row", async () => {
    const app = tempApp();
    dirs.push(app.dir);
    const o = await launch([app.file, "-w", "1", ...LOCAL]);
    const [worker] = o.workers();
    assert.ok((await hit(o.port, "/")).ok);
    app.break();
    const startedAt = performance.now();
    signal(worker!, "SIGKILL");
    const exit = await within(o.exited, 60_000, "the master did not give up");
    const err = o.stderr();
    assert.deepEqual(exit, { code: 5, signal: null }, err);
    assert.match(err, new RegExp(`worker ${worker} was killed by SIGKILL; starting a replacement`));
    assert.match(err, /\[CRITICAL\] workers failed to boot 5 times in a row; giving up/);
    assert.equal((err.match(/exited with code 4 while loading the app/g) ?? []).length, 5, err);
    const backoffs = [...err.matchAll(/next worker in (\d+) ms \(boot failure (\d) of 5\)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    assert.deepEqual(backoffs.map(([, n]) => n), [1, 2, 3, 4], err);
    for (let i = 1; i < backoffs.length; i++) assert.ok(backoffs[i]![0]! > backoffs[i - 1]![0]!, `the backoff grows: ${JSON.stringify(backoffs)}`);
    // The backoffs were waited for: the five attempts took at least their sum.
    const sum = backoffs.reduce((a, [ms]) => a + ms!, 0);
    assert.ok(performance.now() - startedAt >= sum, "the master did not wait between attempts");
    assert.ok(err.trimEnd().split("\n").some((l) => /giving up/.test(l)), "a clear giving-up line");
    assert.deepEqual(await workersGone(o, 3000), []);
  });
});
