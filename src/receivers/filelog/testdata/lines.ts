// Log lines for benchmarks: 10 fields each.

/** A JSON line with 10 fields, as python-json-logger / structlog write them. */
export function jsonLine(i: number): string {
  return JSON.stringify({
    timestamp: `2024-03-04T05:06:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z`,
    level: ['info', 'warn', 'error', 'debug'][i % 4],
    message: `request ${i} handled`,
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    span_id: '00f067aa0ba902b7',
    logger: 'app.http',
    method: 'GET',
    path: `/api/items/${i % 97}`,
    status: 200 + (i % 5),
    duration_ms: (i % 1000) / 7,
  });
}
export const logfmtLine = (i: number): string => `ts=2024-03-04T05:06:07.${String(i % 1000).padStart(3, '0')}Z level=info msg="request ${i} handled" trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 logger=app.http method=GET path=/api/items/${i % 97} status=200 duration_ms=12.5`;

