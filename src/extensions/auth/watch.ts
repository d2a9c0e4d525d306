// Re-reads a credentials file when it changes. Watches the directory, not the
// file, so an atomic replace (write a temp file, rename it over) is seen, as
// is the symlink swap Kubernetes does for mounted secrets. A stat poll backs
// the watcher up on filesystems that send no events.
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export class FileWatch {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private last = '';

  constructor(private file: string, private onChange: (text: string) => void, private onError: (e: Error) => void, private pollMs = 1000) {}

  /** Reads the file once (throws when it cannot) and starts watching. */
  start(): string {
    const text = readFileSync(this.file, 'utf8');
    this.last = stamp(this.file);
    const name = basename(this.file);
    try {
      this.watcher = watch(dirname(this.file), { persistent: false }, (_ev, f) => {
        if (!f || f === name || f.startsWith('..')) this.check();
      });
      this.watcher.on('error', () => undefined);
    } catch {
      /* the poll below still runs */
    }
    this.timer = setInterval(() => this.check(), this.pollMs);
    this.timer.unref();
    return text;
  }

  private check(): void {
    let now: string;
    try {
      now = stamp(this.file);
    } catch {
      return; // between unlink and rename: the next event or poll sees the new file
    }
    if (now === this.last) return;
    try {
      const text = readFileSync(this.file, 'utf8');
      this.last = now;
      this.onChange(text);
    } catch (e) {
      this.onError(e as Error);
    }
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function stamp(file: string): string {
  const st = statSync(file);
  return `${st.ino}:${st.size}:${st.mtimeMs}`;
}
