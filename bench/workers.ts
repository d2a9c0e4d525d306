// Worker scaling: the same load (bench/e2e.ts, flat out, one connection per
// sender) against the daemon with --workers 1 and --workers 2, back to back
// in one run, for passthrough and for the full secure pipeline. Reports each
// run and the ratios of throughput and of spans per core.
//
//   node --import tsx bench/workers.ts [--duration 15] [--attrs 20] [--transport http] [--scenarios passthrough,full]
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    attrs: { type: 'string', default: '20' },
    transport: { type: 'string', default: 'http' },
    concurrency: { type: 'string', default: '8' },
    scenarios: { type: 'string', default: 'passthrough,full' },
  },
});

interface Run {
  workers: number;
  accepted_spans_per_s: number;
  spans_per_s_per_core: number;
  daemon_core_fraction: number;
  load_tool_core_fraction: number;
  peak_rss_mib: number;
  latency_ms_p99: number;
  lost_spans: number;
}

function run(scenario: string, workers: number): Run {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench', 'e2e.ts'), '--scenario', scenario, '--workers', String(workers), '--duration', args.duration!, '--attrs', args.attrs!, '--transport', args.transport!, '--concurrency', args.concurrency!],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  const r = JSON.parse(out.slice(out.indexOf('{'))) as Run;
  return { workers, accepted_spans_per_s: r.accepted_spans_per_s, spans_per_s_per_core: r.spans_per_s_per_core, daemon_core_fraction: r.daemon_core_fraction, load_tool_core_fraction: r.load_tool_core_fraction, peak_rss_mib: r.peak_rss_mib, latency_ms_p99: r.latency_ms_p99, lost_spans: r.lost_spans };
}

const report: Record<string, unknown> = { duration_s: Number(args.duration), attrs: Number(args.attrs), transport: args.transport, connections: Number(args.concurrency) };
for (const scenario of args.scenarios!.split(',')) {
  const one = run(scenario, 1);
  const two = run(scenario, 2);
  report[scenario] = {
    workers_1: one,
    workers_2: two,
    throughput_ratio: Number((two.accepted_spans_per_s / one.accepted_spans_per_s).toFixed(2)),
    per_core_ratio: Number((two.spans_per_s_per_core / one.spans_per_s_per_core).toFixed(2)),
  };
}
console.log(JSON.stringify(report, null, 2));
