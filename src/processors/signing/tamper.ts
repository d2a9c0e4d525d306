// The file exporter's tamper-evident mode: its config block and the line chain
// it writes through (chain.ts, ChainWriter). The exporter calls:
//
//   const te = TamperEvidentLog.open(settings, cfg.tamper_evident, cfg.path);  // on start
//   const line = te.line(jsonPayload);   // per batch, in write order; adds the link
//   te.committed();                      // after lines were written
//   await te.close();                    // on shutdown, after the last write
import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { CreateSettings } from '../../component/component.js';
import { s, type Infer, type Issues } from '../../config/schema.js';
import { ChainWriter, sanitizeStream } from './chain.js';
import { validateKeys } from './config.js';
import { keyFields, loadKeyring } from './keys.js';
import { ALGORITHMS, HmacKey } from './mac.js';

export const tamperEvidentSchema = s.object({
  enabled: s.bool(false),
  algorithm: s.enum(ALGORITHMS, 'hmac-sha256'),
  ...keyFields,
  /** Where the chain head is kept (default: <service.data_dir>/file, else beside the output file). */
  state_directory: s.string().optional(),
  /** fsync every chain state write: survives a power loss, at one disk flush per write. */
  state_fsync: s.bool(false),
});
export type TamperEvidentConfig = Infer<typeof tamperEvidentSchema>;

/** Checks a file exporter config's tamper_evident block. */
export function validateTamperEvident(cfg: { tamper_evident: TamperEvidentConfig; format: string; append: boolean }, path: string[], issues: Issues): void {
  const te = cfg.tamper_evident;
  if (!te.enabled) return;
  const p = [...path, 'tamper_evident'];
  if (cfg.format !== 'json') issues.error([...path, 'format'], 'must be "json" when tamper_evident is enabled');
  if (!cfg.append) issues.error([...path, 'append'], 'must be true when tamper_evident is enabled: a restart must not truncate the chained file');
  validateKeys(te, p, issues);
}

/** The state file path for a file exporter's chain. */
export function tamperStatePath(settings: Pick<CreateSettings, 'id' | 'dataDir'>, cfg: TamperEvidentConfig, outputPath: string): string {
  const id = sanitizeStream(settings.id).replace(/[/:@]/g, '_');
  if (cfg.state_directory) return join(cfg.state_directory, `file-${id}.chain.json`);
  if (settings.dataDir) return join(settings.dataDir, 'file', `file-${id}.chain.json`);
  return join(dirname(outputPath), `.sieve-chain-${id}-${basename(outputPath)}.json`);
}

export class TamperEvidentLog {
  private constructor(private readonly writer: ChainWriter) {}

  /**
   * Opens the chain for an output file. Loads the keyring and the state;
   * resumes from the last complete line of the output file when that is
   * further ahead; ends a cut-short last line with a newline so that it stays
   * apart (the verifier reports it). Throws on bad keys or unusable state.
   */
  static open(settings: Pick<CreateSettings, 'id' | 'instanceId' | 'dataDir' | 'now'>, cfg: TamperEvidentConfig, outputPath: string): TamperEvidentLog {
    const ring = loadKeyring(cfg, { needSigningKey: true });
    const kid = ring.signingKeyId!;
    const writer = ChainWriter.open({
      path: tamperStatePath(settings, cfg, outputPath),
      stream: `${settings.instanceId}/${settings.id}`,
      alg: cfg.algorithm,
      key: new HmacKey(cfg.algorithm, ring.keys.get(kid)!),
      kid,
      fsync: cfg.state_fsync,
      now: settings.now,
    });
    const tail = lastLine(outputPath);
    if (tail.line) writer.resume(tail.line);
    if (tail.cutShort) {
      const fd = openSync(outputPath, 'a');
      try {
        writeSync(fd, '\n');
      } finally {
        closeSync(fd);
      }
    }
    return new TamperEvidentLog(writer);
  }

  /** The line (without newline) for one export request as OTLP/JSON. */
  line(payload: string): string {
    return this.writer.append(payload).line;
  }

  /** Lines handed out so far are in the file: persist the head (coalesced). */
  committed(): void {
    this.writer.committed();
  }

  head(): { stream: string; seq: number; digest: string } {
    return this.writer.head();
  }

  /** Persists the head and waits for it (shutdown). */
  async close(): Promise<void> {
    await this.writer.close();
  }
}

/** The last complete line of a file, and whether the file ends without a newline (a cut-short write). */
export function lastLine(path: string): { line?: string; cutShort: boolean } {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return { cutShort: false };
  }
  if (size === 0) return { cutShort: false };
  const fd = openSync(path, 'r');
  try {
    const chunk = 64 * 1024;
    let buf = Buffer.alloc(0);
    let pos = size;
    for (;;) {
      if (pos > 0) {
        const start = Math.max(0, pos - chunk);
        const b = Buffer.alloc(pos - start);
        readSync(fd, b, 0, b.length, start);
        buf = buf.length === 0 ? b : Buffer.concat([b, buf]);
        pos = start;
      }
      const cutShort = buf[buf.length - 1] !== 0x0a;
      const last = buf.lastIndexOf(0x0a);
      if (last < 0) {
        if (pos === 0) return { cutShort };
        continue;
      }
      const prev = last === 0 ? -1 : buf.lastIndexOf(0x0a, last - 1);
      if (prev < 0 && pos > 0) continue;
      const line = buf.subarray(prev + 1, last).toString('utf8').replace(/\r$/, '');
      return { line: line === '' ? undefined : line, cutShort };
    }
  } finally {
    closeSync(fd);
  }
}
