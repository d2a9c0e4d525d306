// Loki's rejection messages → its discard reasons (pkg/validation), a bounded
// set usable as a metric label. Loki answers a partly invalid push with 400 and
// one message line per problem; a throttled push with 429.

export const REASONS = [
  'line_too_long',
  'too_far_behind',
  'greater_than_max_sample_age',
  'too_far_in_future',
  'rate_limited',
  'per_stream_rate_limit',
  'stream_limit',
  'max_label_names_per_series',
  'label_name_too_long',
  'label_value_too_long',
  'duplicate_label_names',
  'missing_labels',
  'invalid_labels',
  'structured_metadata_too_large',
  'structured_metadata_too_many',
  'disallowed_structured_metadata',
  'no_org_id',
  'request_too_large',
  'other',
] as const;
export type Reason = (typeof REASONS)[number];

// Ordered: the first pattern that matches a line names its reason.
const PATTERNS: ReadonlyArray<readonly [RegExp, Reason]> = [
  [/max entry size .* exceeded/i, 'line_too_long'],
  [/entry too far behind|entry out of order/i, 'too_far_behind'],
  [/timestamp too old/i, 'greater_than_max_sample_age'],
  [/timestamp too new/i, 'too_far_in_future'],
  [/per stream rate limit|per-stream rate limit/i, 'per_stream_rate_limit'],
  [/ingestion rate limit/i, 'rate_limited'],
  [/stream limit exceeded/i, 'stream_limit'],
  [/label names; limit/i, 'max_label_names_per_series'],
  [/label name too long/i, 'label_name_too_long'],
  [/label value too long/i, 'label_value_too_long'],
  [/duplicate label name/i, 'duplicate_label_names'],
  [/at least one label pair is required|missing labels/i, 'missing_labels'],
  [/structured metadata.*too many|too many structured metadata/i, 'structured_metadata_too_many'],
  [/structured metadata.*too large|too large structured metadata/i, 'structured_metadata_too_large'],
  [/structured metadata.*(?:disallowed|not allowed)|disallowed structured metadata/i, 'disallowed_structured_metadata'],
  [/error parsing labels|invalid labels|parse error/i, 'invalid_labels'],
  [/no org id/i, 'no_org_id'],
];

/**
 * The distinct reasons in a Loki error body, in order of first appearance; at
 * least one. Lines that match no known message (e.g. the "total ignored: n out
 * of m" tail of a too_far_behind message) only count as `other` when nothing
 * else matched.
 */
export function parseReasons(status: number, body: string): Reason[] {
  if (status === 413) return ['request_too_large'];
  const found: Reason[] = [];
  let unmatched = false;
  for (const line of body.split('\n')) {
    if (line.trim() === '') continue;
    let r: Reason | undefined;
    for (const [re, reason] of PATTERNS) {
      if (re.test(line)) {
        r = reason;
        break;
      }
    }
    if (r === undefined) unmatched = true;
    else if (!found.includes(r)) found.push(r);
  }
  if (found.length === 0) found.push(status === 401 && !unmatched ? 'no_org_id' : status === 429 && !unmatched ? 'rate_limited' : 'other');
  return found;
}
