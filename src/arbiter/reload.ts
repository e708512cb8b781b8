import path from "node:path";
import { watch, type FSWatcher } from "chokidar";
import picomatch from "picomatch";

/**
 * --reload (development): watches directories for changes to the app's files and reports them, a burst of
 * saves at a time (an editor's write-rename-chmod, a `git checkout` of many files). chokidar does the watching
 * (inotify per directory on Linux, with its edge cases handled); picomatch matches the globs as a shell would.
 * node_modules and dot-folders (.git, .cache, an editor's swap files) are never watched: they change often
 * and are not the app's code, and watching node_modules alone can exhaust the inotify limit.
 */

export interface ReloadOptions {
  /** Directories to watch (absolute). */
  dirs: string[];
  /** Single files to watch wherever they are, whatever the globs say (the config file). */
  files: string[];
  include: string[];
  exclude: string[];
  /** Changed files (absolute), a burst at a time. */
  onChange(files: string[]): void;
  onError(err: Error): void;
}

// A burst of events is reported once this long after its last event.
const SETTLE_MS = 100;

/** Whether a path lies in node_modules or a dot-folder (or is a dotfile), from the watched root on. */
function alwaysIgnored(rel: string): boolean {
  if (rel === "" || rel.startsWith("..")) return false;
  return rel.split(path.sep).some((seg) => seg === "node_modules" || (seg.startsWith(".") && seg !== "." && seg !== ".."));
}

export class Reloader {
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly changed = new Set<string>();
  private readonly included: (p: string) => boolean;
  private readonly excluded: (p: string) => boolean;

  constructor(private readonly opts: ReloadOptions) {
    // A glob without a slash matches a file's name; one with a slash, its path from the watched directory (as uvicorn's).
    const match = (globs: string[]): ((p: string) => boolean) => (globs.length === 0 ? () => false : picomatch(globs, { basename: true, dot: true }));
    this.included = match(opts.include);
    this.excluded = match(opts.exclude);
  }

  /** The path of `file` from the watched directory it is in, or null if it is in none. */
  private relative(file: string): string | null {
    for (const dir of this.opts.dirs) {
      const rel = path.relative(dir, file);
      if (!rel.startsWith("..") && !path.isAbsolute(rel)) return rel;
    }
    return null;
  }

  /** Whether a change to `file` reloads. */
  matters(file: string): boolean {
    if (this.opts.files.includes(file)) return true;
    const rel = this.relative(file);
    if (rel === null || alwaysIgnored(rel)) return false;
    const posix = rel.split(path.sep).join("/");
    return this.included(posix) && !this.excluded(posix);
  }

  /** Starts watching; resolves once the initial scan is done (changes from then on are seen). */
  start(): Promise<void> {
    const watcher = watch([...this.opts.dirs, ...this.opts.files], {
      ignoreInitial: true,
      // Never descend into node_modules or dot-folders (a watched root that is itself such a folder is kept).
      ignored: (p: string) => {
        if (this.opts.files.includes(p)) return false;
        const rel = this.relative(p);
        return rel !== null && alwaysIgnored(rel);
      },
    });
    this.watcher = watcher;
    const seen = (file: string): void => {
      const abs = path.resolve(file);
      if (!this.matters(abs)) return;
      this.changed.add(abs);
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        const files = [...this.changed];
        this.changed.clear();
        this.opts.onChange(files);
      }, SETTLE_MS);
    };
    watcher.on("add", seen).on("change", seen).on("unlink", seen);
    watcher.on("error", (err) => this.opts.onError(err as Error));
    return new Promise((resolve) => watcher.once("ready", () => resolve()));
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.watcher?.close();
    this.watcher = null;
  }
}
