#!/usr/bin/env node
import { helpText, parseCommandLine, type CommandLine } from "./config/args.ts";
import { UsageError, type Settings } from "./config/settings.ts";
import { fetchGateway } from "./gateway/fetch.ts";
import { AppLoadError, loadApp, parseAppSpec, type LoadedApp } from "./gateway/load.ts";
import { createLogger, describeError, type Logger } from "./log.ts";
import { openAccessLog, type AccessLog } from "./server/access-log.ts";
import { ListenError, Server } from "./server/server.ts";
import { VERSION } from "./version.ts";

/** Exit codes, documented in the README and in --help. */
export const EXIT = {
  OK: 0,
  UNEXPECTED: 1,
  USAGE: 2,
  LISTEN: 3,
  APP_LOAD: 4,
} as const;

const NO_APP = "oryx: provide an application as MODULE[:EXPORT], e.g. oryx examples/hello.ts";

async function main(argv: string[]): Promise<void> {
  let cmd: CommandLine;
  try {
    cmd = parseCommandLine(argv);
  } catch (err) {
    if (err instanceof UsageError) exitWith(EXIT.USAGE, `oryx: ${err.message}\nTry 'oryx --help'.`);
    throw err;
  }
  if (cmd.help) {
    process.stdout.write(helpText(VERSION));
    return;
  }
  if (cmd.version) {
    process.stdout.write(`oryx ${VERSION}\n`);
    return;
  }
  if (cmd.app === undefined) exitWith(EXIT.USAGE, NO_APP);

  const settings = cmd.settings;
  const log = createLogger(settings.logLevel);
  let app: LoadedApp;
  try {
    app = await loadApp(parseAppSpec(cmd.app));
  } catch (err) {
    if (err instanceof AppLoadError) {
      const stack = err.detail !== undefined ? `\n${describeError(err.detail)}` : "";
      exitWith(EXIT.APP_LOAD, `oryx: cannot load the app: ${err.message}${stack}`);
    }
    throw err;
  }
  await serve(settings, app, log);
}

async function serve(settings: Settings, app: LoadedApp, log: Logger): Promise<void> {
  const accessLog: AccessLog | null = settings.accessLog === "" ? null : openAccessLog(settings.accessLog);
  const server = new Server({
    binds: settings.bind,
    backlog: settings.backlog,
    connection: {
      limits: {
        requestLine: settings.limitRequestLine,
        fields: settings.limitRequestFields,
        fieldSize: settings.limitRequestFieldSize,
        body: settings.limitRequestBody,
      },
      headerTimeoutMs: settings.headerTimeout,
      keepAliveTimeoutMs: settings.keepAliveTimeout,
      bodyTimeoutMs: settings.requestTimeout,
      serverHeader: settings.serverHeader,
      handler: fetchGateway(app.fetch, log),
      log,
      onAccess: accessLog === null ? null : accessLog.write,
    },
  });
  let urls: string[];
  try {
    urls = await server.listen();
  } catch (err) {
    if (err instanceof ListenError) exitWith(EXIT.LISTEN, `oryx: ${err.message}`);
    throw err;
  }
  const appName = app.spec.exportName === "default" ? app.spec.module : `${app.spec.module}:${app.spec.exportName}`;
  log.info(`oryx ${VERSION} serving ${appName} (${app.interface}) on ${urls.join(", ")} (pid ${process.pid})`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warning(`${signal} again: closing every connection now`);
      server.destroyAll();
      return;
    }
    stopping = true;
    log.info(`${signal}: stopping; requests in flight have ${settings.gracefulTimeout / 1000}s to finish`);
    void server.close(settings.gracefulTimeout).then(async () => {
      await accessLog?.close();
      log.info("stopped");
      process.exit(EXIT.OK);
    });
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  // An app's stray async error must not take every other request down with it: log it and keep serving.
  process.on("unhandledRejection", (reason) => log.error("an unhandled promise rejection (in the app?)", reason));
}

function exitWith(code: number, message: string): never {
  process.stderr.write(message.endsWith("\n") ? message : `${message}\n`);
  process.exit(code);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`oryx: unexpected error: ${describeError(err)}\n`);
  process.exit(EXIT.UNEXPECTED);
});
