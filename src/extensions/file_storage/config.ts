import { s, type Infer, type Issues } from '../../config/schema.js';

export const fileStorageSchema = s.object({
  /** Where the database file lives (one file per file_storage instance). */
  directory: s.string('/var/lib/sieve/file_storage', { nonEmpty: true }),
  /** Create the directory (mode 0750) when it does not exist. */
  create_directory: s.bool(false),
  /**
   * true: every commit is fsynced (SQLite synchronous=FULL), so committed data
   * survives power loss and OS crashes. false: synchronous=NORMAL; committed
   * data survives a crash or kill -9 of the process, not of the machine.
   */
  fsync: s.bool(false),
  /** Cap on stored bytes (payloads plus request context). New data is refused with a retryable error above it. 0 = no cap. */
  max_size_bytes: s.size(1024 ** 3),
  /**
   * How long a write may wait for others to share its transaction (and its
   * fsync). 0 commits at the end of the current event-loop turn, which already
   * groups the requests that arrived together.
   */
  commit_delay: s.duration('0s'),
  /** How long to wait for a lock held by another connection (SQLite busy timeout). */
  timeout: s.duration('1s'),
  /** How often to try again to open a storage that could not be opened. */
  reopen_interval: s.duration('5s'),
  compaction: s.object({
    /** VACUUM the database on start, returning the space of deleted records to the file system. */
    on_start: s.bool(false),
  }),
});
export type FileStorageConfig = Infer<typeof fileStorageSchema>;

export function validateFileStorage(cfg: FileStorageConfig, path: string[], issues: Issues): void {
  if (cfg.commit_delay > 1000) issues.error([...path, 'commit_delay'], 'must be at most 1s: every acknowledgement waits this long');
  if (cfg.max_size_bytes > 0 && cfg.max_size_bytes < 64 * 1024) issues.error([...path, 'max_size_bytes'], 'must be at least 64KiB (or 0 for no cap)');
  if (cfg.reopen_interval < 100) issues.error([...path, 'reopen_interval'], 'must be at least 100ms');
}
