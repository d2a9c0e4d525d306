// The `durable` key a receiver accepts:
//
//   durable: true                          # the only file_storage extension
//   durable: { enabled: true, storage: file_storage/durable }
import { Issues, Schema, s, type Infer } from '../config/schema.js';

const objectSchema = s.object({
  /** Acknowledge a client's request only once it is committed to storage. */
  enabled: s.bool(false),
  /** Id of the storage extension (file_storage[/name]). May be omitted when exactly one is configured. */
  storage: s.string().optional(),
});
export type DurableConfig = Infer<typeof objectSchema>;

class DurableSchema extends Schema<DurableConfig> {
  parse(v: unknown, path: string[], issues: Issues): DurableConfig {
    if (v === undefined || v === null || v === false || v === 'false') return { enabled: false, storage: undefined };
    if (v === true || v === 'true') return { enabled: true, storage: undefined };
    if (typeof v !== 'object' || Array.isArray(v)) {
      issues.error(path, `must be true, false or a map with enabled and storage, got ${Array.isArray(v) ? 'a list' : `${typeof v} ${JSON.stringify(v)}`}`);
      return { enabled: false, storage: undefined };
    }
    const out = objectSchema.parse(v, path, issues);
    if (out.storage !== undefined && !/^[a-z][a-z0-9_]*(\/.+)?$/.test(out.storage)) {
      issues.error([...path, 'storage'], `must be a storage extension id such as file_storage/durable, got ${JSON.stringify(out.storage)}`);
    }
    return out;
  }
  describe(): string {
    return 'true, false or a map';
  }
}

/** Schema of a receiver's `durable` key (off by default). */
export const durableSchema: Schema<DurableConfig> = new DurableSchema();
