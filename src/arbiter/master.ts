import { fork, type ChildProcess } from "node:child_process";
import { existsSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Settings } from "../config/settings.ts";
import type { AppSpec } from "../config/app-spec.ts";
import type { Logger } from "../log.ts";
import { ListenError } from "../server/errors.ts";
import { NodeInternalsError } from "../errors.ts";
import { checkNodeInternals } from "../node-internals.ts";
import { preflight } from "./preflight.ts";
import { workerEntry, youngGeneration } from "./worker-spawn.ts";
import { WORKER_CONFIG_ENV, WORKER_EXIT, type ToMaster, type ToWorker, type WorkerConfig } from "./protocol.ts";
import { activatedBinds, bindSockets, type BoundSocket } from "./sockets.ts";
import type { AdminServer } from "./admin.ts";
import type { Reloader } from "./reload.ts";
import { RESTART_REASONS, Totals, backlogLimit, listenBacklog, renderMetrics, type RestartReason } from "./metrics.ts";
import type { WorkerStats } from "./worker-stats.ts";

/*
 * The master (the arbiter): one class and its loop. Over 500 lines on purpose: every method reads and changes the
 * same pool state (workers, generation, stopping, the wake-up), and the loop is easiest to check when all of it
 * is in one place, as Gunicorn's arbiter is. What does not touch that state lives beside it: preflight.ts (checks
 * before binding), worker-spawn.ts (a worker's entry and flags), sockets.ts (binding and sharing), protocol.ts
 * (the messages), metrics.ts and admin.ts (what is counted and served), reload.ts (the file watcher).
 */

/** Exit codes of the master (and so of `oryx`), documented in the README. */
export const EXIT = {
  OK: 0,
  UNEXPECTED: 1,
  USAGE: 2,
  LISTEN: 3,
  APP_LOAD: 4,
  BOOT_FAILURES: 5,
} as const;

// Workers that die before they are ready this many times in a row make the master give up.
export const MAX_BOOT_FAILURES = 5;
// A worker gets at least this long to load its app and start accepting; and at least this much more than
// --listen-timeout, which it may spend waiting for a module that calls listen() late (it then fails by itself).
const MIN_BOOT_TIMEOUT_MS = 60_000;
const BOOT_MARGIN_MS = 30_000;

const HANDLED_SIGNALS = ["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGTTIN", "SIGTTOU", "SIGUSR1"] as const;
type HandledSignal = (typeof HANDLED_SIGNALS)[number];

interface Worker {
  proc: ChildProcess;
  pid: number;
  generation: number;
  bornAt: number;
  ready: boolean;
  lastBeat: number;
  /**
   * Reached --max-requests (true), crashed (it stops by itself), or passed --max-worker-memory: to be stopped once
   * a replacement is ready.
   */
  retiring: boolean | "crash" | "memory";
  /** Why it is being replaced, counted in oryx_worker_restarts_total when it exits. */
  restartReason: RestartReason | null;
  /** Its latest counters (--metrics-bind), and whether they were added to the retired totals at its exit. */
  stats: WorkerStats | null;
  folded: boolean;
  rss: number | null;
  /** Told to stop; killed if still alive at this time. */
  stopDeadline: number | null;
}

export interface ArbiterOptions {
  settings: Settings;
  app: AppSpec;
  cwd: string;
  version: string;
  log: Logger;
  /** The config file in use (absolute), watched too under --reload. */
  configFile?: string;
  /** Reads the settings again (the config file changed, under --reload). Throws UsageError. */
  rereadSettings?: () => Promise<Settings>;
}

/** Settings a running master cannot change: they are bound, or are the watcher's own. A reload keeps them. */
const FIXED_SETTINGS = ["bind", "backlog", "unixSocketMode", "pidFile", "metricsBind", "reload", "reloadDir", "reloadInclude", "reloadExclude", "workers", "errorLog", "logLevel"] as const;

/**
 * The master: binds the sockets once, starts the workers, and supervises them in one loop that wakes on a
 * signal, a worker's message or exit, or once a second; handles queued signals; kills workers that stopped
 * answering; and brings the pool back to its target size. (Gunicorn's arbiter, in Node: libuv reaps every child
 * and restarts interrupted calls; this loop observes and answers every exit.)
 */
export class Arbiter {
  private readonly opts: ArbiterOptions;
  private readonly log: Logger;
  private settings: Settings;
  private readonly workers = new Map<number, Worker>();
  private sockets: BoundSocket[] = [];
  private urls: string[] = [];
  private target: number;
  private generation = 0;
  private readonly signals: HandledSignal[] = [];
  private wakeUp: (() => void) | null = null;
  private stopping: "graceful" | "fast" | null = null;
  private exitCode: number | null = null;
  /** A worker has been ready: the app loads. */
  private everReady = false;
  /** The startup line was written. */
  private announced = false;
  private bootFailures = 0;
  private nextSpawnAt = 0;
  private readonly listeners: Array<[HandledSignal, () => void]> = [];
  /** The admin listener (--metrics-bind), or null. */
  private admin: AdminServer | null = null;
  /** Counters of workers that are gone (--metrics-bind). */
  private readonly retired = new Totals();
  /** A worker found the app to be a Node (req, res) app: workers get its young generation (youngGeneration). */
  private nodeApp = false;
  private readonly restarts = Object.fromEntries(RESTART_REASONS.map((r) => [r, 0])) as Record<RestartReason, number>;
  /** In --shutdown-delay after SIGTERM: not ready, still serving; the graceful stop begins at this time. */
  private drainUntil: number | null = null;
  private statsRequest = 0;
  private readonly statsWaiters = new Map<number, { pending: Set<number>; done: () => void }>();
  private reloader: Reloader | null = null;
  /** Files whose change (--reload) is waiting for the loop to reload. */
  private changed: string[] = [];
  /** --reload, and the app did not load at start: no worker until a file changes. */
  private waitingForChange = false;

  constructor(opts: ArbiterOptions) {
    this.opts = opts;
    this.log = opts.log;
    this.settings = opts.settings;
    this.target = opts.settings.workers;
  }

  /** Runs until stopped; resolves with the exit code. */
  async run(): Promise<number> {
    // Workers run this same Node.js (process.execPath): checked here once for both, before anything is bound.
    try {
      checkNodeInternals("master");
      checkNodeInternals("engine");
    } catch (err) {
      if (!(err instanceof NodeInternalsError)) throw err;
      process.stderr.write(`oryx: ${err.message}\n`);
      return EXIT.UNEXPECTED;
    }
    const unusable = preflight(this.settings);
    if (unusable !== null) {
      process.stderr.write(`oryx: ${unusable}\n`);
      return EXIT.USAGE;
    }
    try {
      const activated = activatedBinds(process.env);
      if (activated !== null) this.log.info(`systemd socket activation: serving ${activated.length} inherited socket(s) in place of --bind`);
      // Bound and listening from here on, before any worker exists: connections made while the app loads wait in
      // the kernel's backlog (--backlog) until a worker accepts them, instead of being refused (see sockets.ts).
      this.sockets = await bindSockets(activated ?? this.settings.bind, this.settings.unixSocketMode, this.settings.backlog);
      if (this.settings.certfile !== "") {
        for (const s of this.sockets) s.listener.url = s.listener.url.replace(/^http:/, "https:");
      }
      this.urls = this.sockets.map((b) => b.listener.url);
      if (this.settings.metricsBind !== "") {
        // Loaded only when asked for, as are the watcher and TLS below: the master stays small (it binds and supervises).
        const { AdminServer } = await import("./admin.ts");
        this.admin = new AdminServer({
          healthy: () => this.healthy(),
          ready: () => this.stopping === null && this.drainUntil === null && this.healthy(),
          metrics: () => this.metrics(),
        });
        await this.admin.listen(this.settings.metricsBind);
        this.log.info(`admin listener at ${this.admin.url} (/metrics, /healthz, /readyz)`);
      }
    } catch (err) {
      if (err instanceof ListenError) {
        this.closeSockets();
        process.stderr.write(`oryx: ${err.message}\n`);
        return EXIT.LISTEN;
      }
      throw err;
    }
    if (this.settings.pidFile !== "") writeFileSync(this.settings.pidFile, `${process.pid}\n`);
    if (this.settings.reload) await this.watch();
    for (const sig of HANDLED_SIGNALS) {
      const fn = (): void => {
        this.signals.push(sig);
        this.wake();
      };
      process.on(sig, fn);
      this.listeners.push([sig, fn]);
    }
    try {
      while (this.exitCode === null) {
        this.handleSignals();
        if (this.exitCode !== null) break;
        if (this.changed.length > 0) await this.reloadChanged();
        if (this.drainUntil !== null && this.stopping === null && Date.now() >= this.drainUntil) {
          this.log.info(`--shutdown-delay is over: stopping; requests in flight have ${this.settings.gracefulTimeout / 1000}s to finish`);
          this.stopAll(true);
        }
        this.killUnresponsive();
        this.manageWorkers();
        if (this.stopping !== null && this.workers.size === 0) {
          this.exitCode ??= EXIT.OK;
          break;
        }
        await this.sleep(1000);
      }
    } finally {
      for (const [sig, fn] of this.listeners) process.off(sig, fn);
      for (const w of this.workers.values()) w.proc.kill("SIGKILL");
      this.closeSockets();
      this.admin?.close();
      await this.reloader?.close();
      if (this.settings.pidFile !== "") rmSync(this.settings.pidFile, { force: true });
    }
    if (this.stopping !== null && this.exitCode === EXIT.OK) this.log.info("stopped");
    return this.exitCode;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = null;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        this.wakeUp = null;
        resolve();
      };
    });
  }

  private wake(): void {
    this.wakeUp?.();
  }

  // ─── signals ──────────────────────────────────────────────────────────────────────────────────────────────

  private handleSignals(): void {
    while (this.signals.length > 0) {
      const sig = this.signals.shift()!;
      switch (sig) {
        case "SIGTERM":
        case "SIGINT":
          if (sig === "SIGTERM" && this.stopping === null && this.drainUntil === null && this.settings.shutdownDelay > 0) {
            // Readiness fails now; the pool serves on (new connections too) until the load balancer has noticed.
            this.drainUntil = Date.now() + this.settings.shutdownDelay;
            this.scheduleWake(this.drainUntil);
            this.log.info(`SIGTERM: not ready any more (/readyz answers 503); serving for ${this.settings.shutdownDelay / 1000}s more (--shutdown-delay), then stopping`);
          } else if (this.stopping !== null) {
            this.log.warning(`${sig} again: stopping every worker now`);
            this.stopAll(false);
          } else {
            this.log.info(`${sig}: stopping; requests in flight have ${this.settings.gracefulTimeout / 1000}s to finish`);
            this.stopAll(true);
          }
          break;
        case "SIGQUIT":
          this.log.info("SIGQUIT: stopping now");
          this.stopAll(false);
          break;
        case "SIGHUP":
          if (this.stopping !== null) break;
          this.generation++;
          this.log.info(`SIGHUP: reloading: starting ${this.target} new worker(s) with the app loaded afresh; the old ones stop when the new are ready`);
          break;
        case "SIGTTIN":
          if (this.stopping !== null) break;
          this.target++;
          this.log.info(`SIGTTIN: ${this.target} worker(s) wanted`);
          break;
        case "SIGTTOU":
          if (this.stopping !== null) break;
          if (this.target > 1) this.target--;
          this.log.info(`SIGTTOU: ${this.target} worker(s) wanted`);
          break;
        case "SIGUSR1":
          this.log.reopen();
          this.log.info("SIGUSR1: reopening log files");
          for (const w of this.workers.values()) this.send(w, { t: "reopen" });
          break;
      }
    }
  }

  private stopAll(graceful: boolean): void {
    this.stopping = graceful && this.stopping !== "fast" ? "graceful" : "fast";
    // Stop listening at once: once the workers close their copies too, new connections are refused rather
    // than left waiting in a backlog nobody will accept from.
    this.closeSockets();
    for (const w of this.workers.values()) this.stopWorker(w, graceful);
  }

  private closeSockets(): void {
    for (const s of this.sockets.splice(0)) s.handle.close();
  }

  // ─── workers ──────────────────────────────────────────────────────────────────────────────────────────────

  private spawnWorker(): void {
    const s = this.settings;
    const flags = youngGeneration(s.maxSemiSpace, this.nodeApp);
    const config: WorkerConfig = {
      settings: s,
      app: this.opts.app,
      cwd: this.opts.cwd,
      listeners: this.sockets.map((b) => b.listener),
      maxRequests: s.maxRequests > 0 ? s.maxRequests + (s.maxRequestsJitter > 0 ? Math.floor(Math.random() * (s.maxRequestsJitter + 1)) : 0) : 0,
      reportMemory: s.maxWorkerMemory > 0 || s.metricsBind !== "",
      collectStats: s.metricsBind !== "",
      fetchAppCap: flags.fetchAppCap,
    };
    const proc = fork(workerEntry.file, [], {
      env: { ...process.env, [WORKER_CONFIG_ENV]: JSON.stringify(config) },
      execArgv: flags.execArgv,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    if (proc.pid === undefined) {
      this.log.error("could not start a worker process");
      this.bootFailed();
      return;
    }
    const now = Date.now();
    const w: Worker = {
      proc, pid: proc.pid, generation: this.generation, bornAt: now, ready: false, lastBeat: now, retiring: false, stopDeadline: null,
      restartReason: null, stats: null, folded: false, rss: null,
    };
    this.workers.set(w.pid, w);
    this.sendSockets(w);
    proc.on("message", (msg: ToMaster) => this.onMessage(w, msg));
    proc.on("exit", (code, signal) => this.onExit(w, code, signal));
    proc.on("error", (err) => this.log.debug(`worker ${w.pid}: ${err.message}`));
    if (this.announced) this.log.info(`booting worker ${w.pid}`);
  }

  private sendSockets(w: Worker): void {
    this.sockets.forEach((s, index) => this.send(w, { t: "socket", index }, s.handle));
  }

  private send(w: Worker, msg: ToWorker, handle?: object): void {
    if (!w.proc.connected) return;
    // A worker may die between the check and the write: its exit is handled elsewhere.
    w.proc.send(msg, handle as never, (err) => {
      if (err) this.log.debug(`could not message worker ${w.pid}: ${err.message}`);
    });
  }

  private stopWorker(w: Worker, graceful: boolean): void {
    const deadline = Date.now() + (graceful ? this.settings.gracefulTimeout + 2000 : 2000);
    w.stopDeadline = w.stopDeadline === null ? deadline : Math.min(w.stopDeadline, deadline);
    if (w.proc.connected) this.send(w, { t: graceful ? "stop" : "quit" });
    else w.proc.kill(graceful ? "SIGTERM" : "SIGQUIT");
  }

  private onMessage(w: Worker, msg: ToMaster): void {
    switch (msg.t) {
      case "publish":
        // A WebSocket publish reaches every worker's subscribers: passed on as it came (HTTP never comes here).
        for (const other of this.workers.values()) if (other !== w) this.send(other, msg);
        return;
      case "heartbeat": {
        w.lastBeat = Date.now();
        if (msg.stats !== undefined) this.takeStats(w, msg.stats);
        const rss = msg.stats?.rss ?? msg.rss;
        if (rss !== undefined) {
          w.rss = rss;
          this.checkMemory(w, rss);
        }
        return;
      }
      case "stats": {
        this.takeStats(w, msg.stats);
        const waiter = this.statsWaiters.get(msg.id);
        if (waiter !== undefined && waiter.pending.delete(w.pid) && waiter.pending.size === 0) waiter.done();
        return;
      }
      case "ready":
        w.ready = true;
        w.lastBeat = Date.now();
        this.bootFailures = 0;
        this.everReady = true;
        if (!this.announced) {
          // The startup line, once the first pool is complete; its boot is otherwise silent.
          let ready = 0;
          for (const other of this.workers.values()) if (other.ready) ready++;
          if (ready < this.target) {
            this.wake();
            return;
          }
          this.announced = true;
          const n = this.target;
          this.log.info(
            `oryx ${this.opts.version} serving ${appName(this.opts.app)} (${msg.interface}) with ${n} worker${n === 1 ? "" : "s"} ` +
              `on ${this.urls.join(", ")} (pid ${process.pid})`,
          );
        } else {
          this.log.info(`worker ${w.pid} is ready`);
        }
        this.wake();
        return;
      case "retire":
        w.retiring = msg.reason ?? true;
        this.wake();
        return;
      case "sockets":
        this.sendSockets(w);
        return;
      case "listen-failed":
        this.log.error(`worker ${w.pid} could not listen: ${msg.message}`);
        return;
    }
  }

  private onExit(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(w.pid);
    if (code === WORKER_EXIT.NODE_APP && !w.ready) {
      // The app is a Node app: every worker from now on gets V8's own young generation (--max-semi-space auto),
      // this one's replacement first. It served nothing: not a boot failure, not a restart.
      this.nodeApp = true;
      this.log.debug(`worker ${w.pid} loaded a Node app: starting it again without the fetch apps' young-generation cap (--max-semi-space auto)`);
      this.wake();
      return;
    }
    if (w.stats !== null) this.retired.add(w.stats);
    w.folded = true;
    for (const waiter of this.statsWaiters.values()) if (waiter.pending.delete(w.pid) && waiter.pending.size === 0) waiter.done();
    if (w.restartReason !== null) this.restarts[w.restartReason]++;
    else if (w.ready && this.stopping === null && w.stopDeadline === null) this.restarts.crash++;
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
    if (this.stopping !== null || w.stopDeadline !== null) {
      this.log.debug(`worker ${w.pid} ${how}`);
    } else if (!w.ready) {
      if (code === WORKER_EXIT.APP_LOAD || code === WORKER_EXIT.LISTEN) {
        if (!this.everReady && this.settings.reload && code === WORKER_EXIT.APP_LOAD) {
          // Development: the worker said why; a fix is an edit away, so wait for it rather than exit.
          this.log.error("the app does not load; --reload: waiting for a change to try again");
          this.waitingForChange = true;
        } else if (!this.everReady) {
          // At start: the worker already said why, in one line; give up with the same exit code.
          this.exitCode = code;
          this.stopAll(false);
        } else if (w.generation === this.generation && this.hasOlderGeneration()) {
          this.log.error(`reload failed: the new worker ${w.pid} ${how} while loading the app; the old workers keep serving`);
          this.cancelReload();
        } else {
          this.log.error(`worker ${w.pid} ${how} while loading the app`);
          this.bootFailed();
        }
      } else {
        this.log.error(`worker ${w.pid} ${how} before it was ready`);
        this.bootFailed();
      }
    } else if (w.retiring === "crash") {
      this.log.info(`worker ${w.pid} ${how} after its crash; its replacement was started then`);
    } else {
      this.log.warning(`worker ${w.pid} ${how}; starting a replacement`);
    }
    this.wake();
  }

  private bootFailed(): void {
    this.bootFailures++;
    if (this.bootFailures >= MAX_BOOT_FAILURES) {
      this.log.critical(`workers failed to boot ${this.bootFailures} times in a row; giving up`);
      this.exitCode = EXIT.BOOT_FAILURES;
      this.stopAll(false);
      return;
    }
    const backoff = Math.min(100 * 2 ** (this.bootFailures - 1), 5000);
    this.nextSpawnAt = Date.now() + backoff;
    this.log.warning(`next worker in ${backoff} ms (boot failure ${this.bootFailures} of ${MAX_BOOT_FAILURES})`);
  }

  private hasOlderGeneration(): boolean {
    for (const w of this.workers.values()) if (w.generation < this.generation && w.stopDeadline === null) return true;
    return false;
  }

  /** A reload whose new workers cannot load the app: stop them, keep the old generation as the current one. */
  private cancelReload(): void {
    this.generation--;
    for (const w of this.workers.values()) {
      if (w.generation > this.generation) this.stopWorker(w, false);
    }
  }

  /** Kills workers whose event loop stopped answering, and workers that outlived their stop deadline. */
  private killUnresponsive(): void {
    const now = Date.now();
    const timeout = this.settings.timeout;
    for (const w of this.workers.values()) {
      if (w.stopDeadline !== null) {
        if (now > w.stopDeadline) {
          this.log.warning(`worker ${w.pid} did not stop in time; killing it`);
          w.proc.kill("SIGKILL");
        }
      } else if (w.ready) {
        if (now - w.lastBeat > timeout) {
          this.log.error(`worker ${w.pid} did not answer for ${((now - w.lastBeat) / 1000).toFixed(1)}s (--timeout ${timeout / 1000}s; an app stuck in a busy loop?); killing it`);
          w.restartReason = "timeout";
          // Out of the pool at once (so its replacement starts now), tracked until its exit is seen.
          w.stopDeadline = now + 2000;
          w.proc.kill("SIGKILL");
        }
      } else if (now - w.bornAt > Math.max(timeout, MIN_BOOT_TIMEOUT_MS, this.settings.listenTimeout + BOOT_MARGIN_MS)) {
        this.log.error(`worker ${w.pid} did not get ready in time; killing it`);
        w.proc.kill("SIGKILL");
      }
    }
  }

  /** Brings the pool to its target: spawns, retires extras, finishes reloads and --max-requests handovers. */
  private manageWorkers(): void {
    if (this.stopping !== null || this.exitCode !== null || this.waitingForChange) return;
    const current: Worker[] = [];
    for (const w of this.workers.values()) {
      if (w.generation === this.generation && !w.retiring && w.stopDeadline === null) current.push(w);
    }
    // Too few: start more. Until one worker of this generation is ready (at start, after a reload) or while
    // workers keep failing to boot, one at a time: a broken app then fails once, with one message.
    if (current.length < this.target) {
      if (Date.now() < this.nextSpawnAt) {
        this.scheduleWake(this.nextSpawnAt);
        return;
      }
      let n = this.target - current.length;
      if (this.bootFailures > 0 || !current.some((w) => w.ready)) {
        n = current.some((w) => !w.ready) ? 0 : 1;
      }
      for (let i = 0; i < n; i++) this.spawnWorker();
      return;
    }
    // Too many (SIGTTOU): stop the oldest.
    if (current.length > this.target) {
      const extra = current.sort((a, b) => a.bornAt - b.bornAt).slice(0, current.length - this.target);
      for (const w of extra) {
        this.log.info(`stopping worker ${w.pid} (${this.target} wanted)`);
        this.stopWorker(w, true);
      }
      return;
    }
    // The current pool is complete and ready: whatever was waiting for its replacement may go.
    if (current.every((w) => w.ready)) {
      for (const w of this.workers.values()) {
        if (w.stopDeadline !== null) continue;
        if (w.generation < this.generation) {
          this.log.info(`stopping old worker ${w.pid} (reload)`);
          w.restartReason ??= "reload";
          this.stopWorker(w, true);
        } else if (w.retiring) {
          const why = w.retiring === "crash" ? "after its crash" : w.retiring === "memory" ? "--max-worker-memory" : "--max-requests";
          this.log.info(`stopping worker ${w.pid} (${why}; its replacement is ready)`);
          w.restartReason ??= w.retiring === "crash" ? "crash" : w.retiring === "memory" ? "memory" : "max-requests";
          this.stopWorker(w, true);
        }
      }
    }
  }

  // ─── --reload ───────────────────────────────────────────────────────────────────────────────────────────────

  private async watch(): Promise<void> {
    const s = this.settings;
    const cwd = this.opts.cwd;
    const appFile = path.resolve(cwd, this.opts.app.module);
    const appDir = existsSync(appFile) && statSync(appFile).isFile() ? path.dirname(appFile) : cwd;
    const dirs = s.reloadDir.length > 0 ? s.reloadDir.map((d) => path.resolve(cwd, d)) : [appDir];
    const { Reloader } = await import("./reload.ts");
    this.reloader = new Reloader({
      dirs,
      files: this.opts.configFile !== undefined ? [this.opts.configFile] : [],
      include: s.reloadInclude,
      exclude: s.reloadExclude,
      onChange: (files) => {
        if (this.stopping !== null || this.drainUntil !== null) return;
        this.changed.push(...files);
        this.wake();
      },
      onError: (err) => this.log.warning(`--reload: the file watcher failed: ${err.message}`),
    });
    await this.reloader.start();
    this.log.info(`--reload: watching ${dirs.join(", ")} for changes (development only)`);
  }

  /** Files changed: new workers load the app afresh; the old ones stop once they are ready, or stay if it does not load. */
  private async reloadChanged(): Promise<void> {
    const files = [...new Set(this.changed.splice(0))];
    const names = files.map((f) => path.relative(this.opts.cwd, f) || f);
    const shown = names.length > 3 ? `${names.slice(0, 3).join(", ")} and ${names.length - 3} more` : names.join(", ");
    const config = this.opts.configFile;
    if (config !== undefined && files.includes(config) && this.opts.rereadSettings !== undefined) {
      let next: Settings;
      try {
        next = await this.opts.rereadSettings();
      } catch (err) {
        this.log.error(`--reload: ${(err as Error).message}; the workers keep serving with the settings they have`);
        return;
      }
      const kept: string[] = [];
      for (const key of FIXED_SETTINGS) {
        if (JSON.stringify(next[key]) !== JSON.stringify(this.settings[key])) kept.push(key);
        (next as unknown as Record<string, unknown>)[key] = this.settings[key];
      }
      if (kept.length > 0) this.log.warning(`--reload: ${kept.join(", ")} changed in the config file; that takes a restart of oryx, not a reload`);
      this.settings = next;
    }
    if (this.stopping !== null) return;
    if (this.waitingForChange) {
      this.waitingForChange = false;
      this.log.info(`--reload: ${shown} changed: trying to load the app again`);
      return;
    }
    this.generation++;
    this.log.info(`--reload: ${shown} changed: reloading (new workers load the app; the old ones stop when the new are ready)`);
  }

  // ─── metrics and health ───────────────────────────────────────────────────────────────────────────────────

  /** A worker's latest counters. One already counted at its exit (a last report that came late) adds what it adds. */
  private takeStats(w: Worker, stats: WorkerStats): void {
    if (w.folded) {
      const before = w.stats;
      const delta = new Totals();
      delta.add(stats);
      if (before !== null) {
        for (const [k, n] of before.requests) delta.requests.set(k, (delta.requests.get(k) ?? 0) - n);
        for (let i = 0; i < delta.buckets.length; i++) delta.buckets[i]! -= before.buckets[i] ?? 0;
        delta.durationMs -= before.durationMs;
        delta.bytesIn -= before.bytesIn;
        delta.bytesOut -= before.bytesOut;
      }
      this.retired.add({ ...stats, requests: [...delta.requests], buckets: delta.buckets, durationMs: delta.durationMs, bytesIn: delta.bytesIn, bytesOut: delta.bytesOut });
    }
    w.stats = stats;
  }

  /** --max-worker-memory: a worker past it retires like one at --max-requests (its replacement first). */
  private checkMemory(w: Worker, rss: number): void {
    const limit = this.settings.maxWorkerMemory;
    if (limit <= 0 || rss <= limit || w.retiring || !w.ready || w.stopDeadline !== null || this.stopping !== null) return;
    this.log.warning(`worker ${w.pid} uses ${(rss / 1024 ** 2).toFixed(0)} MiB of memory (--max-worker-memory ${(limit / 1024 ** 2).toFixed(0)} MiB): retiring it once its replacement is ready`);
    w.retiring = "memory";
    this.wake();
  }

  private healthy(): boolean {
    for (const w of this.workers.values()) if (w.ready && w.stopDeadline === null) return true;
    return false;
  }

  /**
   * The /metrics text. Each live worker is asked for its counters now (answered from its event loop, at most a
   * second's wait), so a scrape sees every request answered before it, not the state of the last heartbeat.
   */
  private async metrics(): Promise<string> {
    const id = ++this.statsRequest;
    const pending = new Set<number>();
    for (const w of this.workers.values()) {
      if (!w.ready || !w.proc.connected) continue;
      pending.add(w.pid);
      this.send(w, { t: "stats", id });
    }
    if (pending.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        this.statsWaiters.set(id, {
          pending,
          done: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
      this.statsWaiters.delete(id);
    }
    const ports = new Map<number, string>();
    for (const s of this.sockets) if (s.listener.transport === "tcp") ports.set(Number(new URL(s.listener.url).port), s.listener.url);
    const limit = backlogLimit(this.settings.backlog);
    const backlog = listenBacklog()
      .filter((b) => ports.has(b.port))
      .map((b) => ({ listener: ports.get(b.port)!, queued: b.queued, limit }));
    return renderMetrics({
      retired: this.retired,
      workers: [...this.workers.values()].map((w) => ({ pid: w.pid, ready: w.ready, stats: w.stats, rss: w.rss })),
      restarts: this.restarts,
      backlog,
    });
  }

  private scheduleWake(at: number): void {
    const t = setTimeout(() => this.wake(), Math.max(0, at - Date.now()));
    t.unref();
  }
}

function appName(app: AppSpec): string {
  return app.exportName === "default" ? app.module : `${app.module}:${app.exportName}`;
}
