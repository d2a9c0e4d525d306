// `preset:` expands to an operator list for a common log format; the
// receiver's own `operators` run after it. Each preset's parsed timestamp,
// severity and trace-id fields are removed from the attributes once they are
// in the record (`remove_parsed`); a field that does not parse stays.
// The lists are printed in README.md; keep them in step.

import type { PRESET_NAMES } from './config.js';

export type PresetName = (typeof PRESET_NAMES)[number];
type PresetOp = Record<string, unknown> & { type: string; id: string };

const guardedTime = (id: string, field: string): PresetOp => ({
  type: 'time_parser', id, if: `${field} != nil`, parse_from: field, layout_type: 'iso8601', remove_parsed: true,
});
const guardedSeverity = (id: string, field: string): PresetOp => ({ type: 'severity_parser', id, if: `${field} != nil`, parse_from: field, remove_parsed: true });
const guardedBody = (id: string, field: string, cond = `${field} != nil`): PresetOp => ({ type: 'move', id, if: cond, from: field, to: 'body' });
const traceFrom = (id: string, trace: string, span: string, flags: string, cond?: string): PresetOp => ({
  type: 'trace_parser',
  id,
  ...(cond ? { if: cond } : {}),
  trace_id: { parse_from: trace },
  span_id: { parse_from: span },
  trace_flags: { parse_from: flags },
  remove_parsed: true,
});

export const PRESETS = {
  /** Elastic Common Schema JSON (ecs-logging): `@timestamp`, `log.level`, `message`, `trace.id`, `span.id`. */
  ecs_json: [
    { type: 'json_parser', id: 'preset_json' },
    guardedTime('preset_time', 'attributes["@timestamp"]'),
    guardedSeverity('preset_severity', 'attributes["log.level"]'),
    traceFrom('preset_trace', 'attributes["trace.id"]', 'attributes["span.id"]', 'attributes["trace.flags"]'),
    guardedBody('preset_body', 'attributes.message'),
  ],
  /** python-json-logger and structlog JSON: `timestamp`/`asctime`, `level`/`levelname`, `message`/`event`, `trace_id`, `span_id`. */
  python_json: [
    { type: 'json_parser', id: 'preset_json' },
    guardedTime('preset_time', 'attributes.timestamp'),
    guardedTime('preset_asctime', 'attributes.asctime'),
    guardedSeverity('preset_level', 'attributes.level'),
    guardedSeverity('preset_levelname', 'attributes.levelname'),
    traceFrom('preset_trace', 'attributes.trace_id', 'attributes.span_id', 'attributes.trace_flags'),
    traceFrom('preset_otel_trace', 'attributes.otelTraceID', 'attributes.otelSpanID', 'attributes.otelTraceSampled', 'attributes.otelTraceID != nil'),
    guardedBody('preset_event', 'attributes.event', 'attributes.event != nil and attributes.message == nil'),
    guardedBody('preset_message', 'attributes.message'),
  ],
  /** logfmt (`ts=… level=info msg="…" trace_id=…`). */
  logfmt: [
    { type: 'key_value_parser', id: 'preset_kv' },
    guardedTime('preset_ts', 'attributes.ts'),
    guardedTime('preset_time', 'attributes.time'),
    guardedSeverity('preset_level', 'attributes.level'),
    guardedSeverity('preset_lvl', 'attributes.lvl'),
    traceFrom('preset_trace', 'attributes.trace_id', 'attributes.span_id', 'attributes.trace_flags'),
    traceFrom('preset_trace_camel', 'attributes.traceID', 'attributes.spanID', 'attributes.traceFlags', 'attributes.traceID != nil'),
    guardedBody('preset_message', 'attributes.message', 'attributes.message != nil and attributes.msg == nil'),
    guardedBody('preset_msg', 'attributes.msg'),
  ],
} satisfies Record<PresetName, PresetOp[]>;

import { Issues } from '../../config/schema.js';
import { OPERATOR_SCHEMAS } from './config.js';
import type { CompilableOperator } from './operators.js';

/** The preset's operators with their defaults filled in, as the config schema would. */
export function expandPreset(name: PresetName): CompilableOperator[] {
  return (PRESETS[name] as PresetOp[]).map((raw) => {
    const { remove_parsed, ...rest } = raw;
    const issues = new Issues();
    const schema = OPERATOR_SCHEMAS[rest.type as keyof typeof OPERATOR_SCHEMAS];
    const cfg = schema.parse(rest, ['preset', name], issues) as CompilableOperator;
    if (issues.hasErrors()) throw new Error(`preset ${name}: ${issues.errors.map((i) => i.message).join('; ')}`);
    return remove_parsed ? { ...cfg, remove_parsed: true } : cfg;
  });
}
