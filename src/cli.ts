#!/usr/bin/env node
import path from "node:path";
import { Arbiter, EXIT } from "./arbiter/master.ts";
import { checkConfigReport, helpText, resolveCommandLine, shippedExample, type CommandLine } from "./config/args.ts";
import { ConfigFileError } from "./config/file.ts";
import { UsageError } from "./config/settings.ts";
import { parseAppSpec } from "./config/app-spec.ts";
import { createLogger, describeError, type Logger } from "./log.ts";
import { VERSION } from "./version.ts";

export { EXIT };

/** No app named: the example named is the package's own hello.ts, as the working directory reaches it. */
function noAppMessage(): string {
  const hello = shippedExample("hello.ts");
  const what = "oryx: provide an application as MODULE[:EXPORT]";
  return hello === undefined ? `${what} (see oryx --help)` : `${what}, e.g. oryx ${hello}`;
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === "bench") {
    const { benchMain } = await import("./bench/cli.ts");
    process.exitCode = await benchMain(argv.slice(1));
    return;
  }
  let cmd: CommandLine;
  try {
    cmd = await resolveCommandLine(argv, process.env, process.cwd());
  } catch (err) {
    // A config file's problem is one sentence naming the file and key; --help would not help with it.
    if (err instanceof ConfigFileError) exitWith(EXIT.USAGE, `oryx: ${err.message}`);
    if (err instanceof UsageError) exitWith(EXIT.USAGE, `oryx: ${err.message}\nTry 'oryx --help'.`);
    throw err;
  }
  if (cmd.help) {
    process.stdout.write(helpText(VERSION, process.cwd()));
    return;
  }
  if (cmd.version) {
    process.stdout.write(`oryx ${VERSION}\n`);
    return;
  }
  if (cmd.checkConfig) {
    let report: string;
    try {
      report = checkConfigReport(cmd, process.cwd());
    } catch (err) {
      if (err instanceof UsageError) exitWith(EXIT.USAGE, `oryx: ${err.message}`);
      throw err;
    }
    process.stdout.write(report);
    return;
  }
  if (cmd.app === undefined) exitWith(EXIT.USAGE, noAppMessage());

  const settings = cmd.settings;
  let log: Logger;
  try {
    log = createLogger(settings.logLevel, settings.errorLog);
  } catch (err) {
    // "ENOENT: no such file or directory, open '…'" → "no such file or directory (ENOENT)"
    const e = err as NodeJS.ErrnoException;
    const why = /^\w+: (.*?), open /.exec(e.message)?.[1] ?? e.message;
    exitWith(EXIT.USAGE, `oryx: --error-log: cannot open ${settings.errorLog}: ${why}${e.code ? ` (${e.code})` : ""}`);
  }
  // The master binds, supervises and never serves; the workers load the app (and report why, if they cannot).
  const cwd = process.cwd();
  const arbiter = new Arbiter({
    settings,
    app: parseAppSpec(cmd.app),
    cwd,
    version: VERSION,
    log,
    ...(cmd.config !== undefined ? { configFile: path.resolve(cwd, cmd.config) } : {}),
    // Under --reload, a changed config file is read again the way it was at start (flags and ORYX_* still win).
    rereadSettings: async () => (await resolveCommandLine(argv, process.env, cwd)).settings,
  });
  process.exit(await arbiter.run());
}

function exitWith(code: number, message: string): never {
  process.stderr.write(message.endsWith("\n") ? message : `${message}\n`);
  process.exit(code);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`oryx: unexpected error: ${describeError(err)}\n`);
  process.exit(EXIT.UNEXPECTED);
});
