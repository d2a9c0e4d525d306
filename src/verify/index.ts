// `sieve verify`: checks signed telemetry independently of the daemon.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Signal } from '../pdata/model.js';
import { readStateFile, type ChainStateData } from '../processors/signing/chain.js';
import { KEY_ID_RE, KeyError, MIN_SECRET_BYTES, decodeSecret, readKeyFile, type Keyring } from '../processors/signing/keys.js';
import { readInput } from './readers.js';
import { Verifier } from './verify.js';
import { EVIDENCE_USAGE, isEvidenceInvocation, runEvidenceVerify } from './evidence.js';

export { readInput } from './readers.js';
export { Verifier } from './verify.js';

export const VERIFY_USAGE = `usage: sieve verify (--key-file FILE | --key [ID=]ENVVAR)... [options] <file|dir>...

Checks the signatures (sieve.sig) of spans and log records, the batch chain
(sieve.chain.* resource attributes) and the line chain of tamper-evident file
exporter output. Inputs: OTLP/JSON or protobuf files, file exporter output
(JSON lines or length-prefixed protobuf, rotated files included; a directory
stands for the files in it and its subdirectories), Tempo trace-by-id
responses. gzip is inflated. Output gathered from many instances or workers
verifies together: every chain stream (instance, worker, pipeline) is checked
on its own and reported on its own line.

keys (at least one; every key given may verify):
  --key-file FILE     keyring file, YAML or JSON: keys: [{id, secret}]
  --key ID=ENVVAR     the secret is in environment variable ENVVAR, for key id ID
  --key ENVVAR        as above, used for any key id

options:
  --state PATH        chain state file, or a directory (tree) of them (detects
                      lines or batches cut off at the end of a chain)
  --chain             check batch chains for completeness even for Tempo input
  --partial           the input is a subset (e.g. one trace): check record
                      signatures and chain link MACs, not chain completeness
                      (the default for Tempo responses)
  --from-genesis      a chain that does not start at sequence number 1 fails
  --signal S          traces | logs | metrics, for protobuf files
  --quiet, -q         print only failures, notes and the summary
  --help, -h          this text

evidence (public keys only, docs/evidence.md):
${EVIDENCE_USAGE}

exit status: 0 when everything verifies, 1 when something does not, 2 on a
usage error.`;

export interface VerifyResult {
  exitCode: number;
  output: string;
}

class UsageError extends Error {}

/**
 * Runs `sieve verify` with its command-line arguments (after the `verify`
 * word) and returns the exit code and the text to print on stdout.
 *
 *   sieve verify --key-file F | --key [ID=]ENVVAR ... [--state PATH] [--chain | --partial]
 *                [--from-genesis] [--signal traces|logs|metrics] [-q] <files or dirs...>
 *
 * `env` defaults to process.env (for --key).
 */
export async function runVerify(args: readonly string[], opts: { env?: Readonly<Record<string, string | undefined>> } = {}): Promise<VerifyResult> {
  const env = opts.env ?? process.env;
  // Public-key evidence (docs/evidence.md) has its own options.
  if (isEvidenceInvocation(args)) return runEvidenceVerify(args);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(args, env);
  } catch (e) {
    if (e instanceof UsageError || e instanceof KeyError) return { exitCode: 2, output: `sieve verify: ${e.message}\n\n${VERIFY_USAGE}\n` };
    throw e;
  }
  if (parsed.help) return { exitCode: 0, output: VERIFY_USAGE + '\n' };

  const files = expandInputs(parsed.inputs);
  const inputs = files.map((f) => readInput(f, { signal: parsed.signal }));
  const tempo = inputs.some((f) => f.format === 'tempo');
  const chainComplete = parsed.chain ?? !tempo;
  const v = new Verifier({ ring: parsed.ring, chainComplete, fromGenesis: parsed.fromGenesis, heads: parsed.heads, quiet: parsed.quiet });
  for (const f of inputs) v.addFile(f);
  const report = v.finish();
  const header: string[] = [];
  if (tempo && parsed.chain === undefined) header.push('NOTE  Tempo response: checking record signatures and chain link MACs only (--chain checks completeness)');
  const output = [...header, ...report.lines].join('\n') + '\n';
  return { exitCode: report.ok ? 0 : 1, output };
}

function parseArgs(args: readonly string[], env: Readonly<Record<string, string | undefined>>) {
  const keys = new Map<string, Buffer>();
  const anyKeys: Buffer[] = [];
  const heads = new Map<string, ChainStateData & { file: string }>();
  const inputs: string[] = [];
  let chain: boolean | undefined;
  let fromGenesis = false;
  let quiet = false;
  let signal: Signal | undefined;
  let help = false;
  const addKey = (id: string | undefined, secretText: string, from: string) => {
    const secret = decodeSecret(secretText);
    if (secret.length < MIN_SECRET_BYTES) throw new UsageError(`${from}: the key is ${secret.length} bytes; at least ${MIN_SECRET_BYTES} are required`);
    if (id === undefined) anyKeys.push(secret);
    else {
      if (keys.has(id)) throw new UsageError(`key id "${id}" is given twice`);
      keys.set(id, secret);
    }
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string => {
      const eq = a.indexOf('=');
      if (a.startsWith('--') && eq > 0) return a.slice(eq + 1);
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    const flag = a.startsWith('--') && a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    switch (flag) {
      case '--key-file': {
        const f = value();
        for (const k of readKeyFile(f)) addKey(k.id, k.secret, `${f}: key "${k.id}"`);
        break;
      }
      case '--key': {
        const spec = value();
        const eq = spec.indexOf('=');
        const id = eq >= 0 ? spec.slice(0, eq) : undefined;
        const name = eq >= 0 ? spec.slice(eq + 1) : spec;
        if (id !== undefined && !KEY_ID_RE.test(id)) throw new UsageError(`--key ${spec}: key id must match ${KEY_ID_RE.source}`);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--key ${spec}: "${name}" is not an environment variable name (give the variable's name, never the secret)`);
        const text = env[name];
        if (text === undefined || text === '') throw new UsageError(`--key ${spec}: environment variable ${name} is not set`);
        addKey(id, text, `--key ${spec}`);
        break;
      }
      case '--state':
        for (const f of expandInputs([value()], '.json', true)) {
          let d: ChainStateData | undefined;
          try {
            d = readStateFile(f)?.state;
          } catch (e) {
            throw new UsageError(`--state ${f}: ${(e as Error).message}`);
          }
          if (!d) throw new UsageError(`--state ${f}: empty or missing`);
          heads.set(d.stream, { ...d, file: f });
        }
        break;
      case '--chain':
        chain = true;
        break;
      case '--partial':
        chain = false;
        break;
      case '--from-genesis':
        fromGenesis = true;
        break;
      case '--signal': {
        const s = value();
        if (s !== 'traces' && s !== 'logs' && s !== 'metrics') throw new UsageError(`--signal must be traces, logs or metrics, got "${s}"`);
        signal = s;
        break;
      }
      case '--quiet':
      case '-q':
        quiet = true;
        break;
      case '--help':
      case '-h':
        help = true;
        break;
      default:
        if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a}`);
        inputs.push(a);
    }
  }
  if (!help) {
    if (keys.size === 0 && anyKeys.length === 0) throw new UsageError('no keys: give --key-file or --key');
    if (inputs.length === 0) throw new UsageError('no input files');
  }
  const ring: Keyring = { keys, anyKeys, signingKeyId: undefined };
  return { ring, heads, inputs, chain, fromGenesis, quiet, signal, help };
}

/** Files as given; a directory stands for its regular files (sorted, optionally by extension). */
function expandInputs(paths: readonly string[], ext?: string, hidden = false): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      out.push(p); // reported as unreadable by the reader
      continue;
    }
    if (!st.isDirectory()) {
      out.push(p);
      continue;
    }
    for (const name of readdirSync(p).sort()) {
      const f = join(p, name);
      if ((name.startsWith('.') && !hidden) || name.endsWith('.tmp')) continue;
      try {
        const s = statSync(f);
        // Output and state gathered from many instances or workers (worker-N/ subdirectories).
        if (s.isDirectory() && !name.startsWith('.')) out.push(...expandInputs([f], ext, hidden));
        else if (s.isFile() && (!ext || name.endsWith(ext))) out.push(f);
      } catch {
        // vanished
      }
    }
  }
  return out;
}
