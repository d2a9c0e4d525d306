// Fuzz budget: a short one in `npm test`, a long one with `npm run fuzz`
// (SIEVE_FUZZ_RUNS). A failing input is printed by fast-check with its seed;
// keep it as a file under test/fuzz/corpus/<target>/ so it is replayed on every run.
import fc from 'fast-check';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RUNS = Number(process.env.SIEVE_FUZZ_RUNS ?? 150);
/** A single input taking longer than this counts as a hang. */
export const MAX_MS_PER_INPUT = 2000;

const CORPUS = join(dirname(fileURLToPath(import.meta.url)), 'corpus');

/** The regression inputs kept for a target: [file name, bytes]. */
export function corpus(target: string): [string, Buffer][] {
  const dir = join(CORPUS, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((f) => [f, readFileSync(join(dir, f))] as [string, Buffer]);
}

/** Runs `fn`, failing when it takes longer than MAX_MS_PER_INPUT (a hang, not a speed check). */
export function bounded<T>(fn: () => T): T {
  const t0 = performance.now();
  const r = fn();
  const ms = performance.now() - t0;
  if (ms > MAX_MS_PER_INPUT) throw new Error(`input took ${ms.toFixed(0)} ms (limit ${MAX_MS_PER_INPUT} ms)`);
  return r;
}

/** A valid request with up to 8 byte-level edits. */
export function mutated(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  const edit = fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), v: fc.constant(0) }),
    fc.record({ op: fc.constant('truncate' as const), at: fc.nat(), v: fc.constant(0) }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 8 }).map((edits) => {
    let b = Array.from(valid);
    for (const e of edits) {
      const at = b.length ? e.at % b.length : 0;
      if (e.op === 'flip') b[at] = e.v;
      else if (e.op === 'insert') b.splice(at, 0, e.v);
      else if (e.op === 'delete') b.splice(at, 1);
      else b = b.slice(0, at);
    }
    return Uint8Array.from(b);
  });
}

