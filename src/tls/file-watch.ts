// Watches certificate and key files for change. Watches their directories rather than the files: tools
// that renew certificates (certbot, cert-manager, `mv new.pem cert.pem`) replace the file by rename, which
// ends a watch on the old inode. Several events in a burst collapse into one callback after `settleMs`.
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Clock, TimerHandle } from '../core/index.ts';

export class FileWatch {
  private readonly watchers: FSWatcher[] = [];
  private timer: TimerHandle | undefined;
  private readonly files: readonly string[];
  private readonly onChange: () => void;
  private readonly clock: Clock;
  private readonly settleMs: number;

  constructor(files: readonly string[], onChange: () => void, clock: Clock, settleMs = 100) {
    this.files = files;
    this.onChange = onChange;
    this.clock = clock;
    this.settleMs = settleMs;
  }

  start(onError: (err: Error) => void): void {
    const byDir = new Map<string, Set<string>>();
    for (const file of this.files) {
      const dir = path.dirname(file);
      if (!byDir.has(dir)) byDir.set(dir, new Set());
      byDir.get(dir)!.add(path.basename(file));
    }
    for (const [dir, names] of byDir) {
      try {
        const watcher = watch(dir, { persistent: false }, (_event, filename) => {
          if (filename === null || names.has(filename.toString())) this.bump();
        });
        watcher.on('error', onError);
        this.watchers.push(watcher);
      } catch (err) {
        onError(err as Error);
      }
    }
  }

  private bump(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.onChange();
    }, this.settleMs);
  }

  stop(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const watcher of this.watchers.splice(0)) watcher.close();
  }
}
