// A synthetic exposition of a given number of samples, shaped like a busy
// service: counters and gauges with four labels each, and histograms with ten
// buckets plus +Inf, _sum and _count.
export function exposition(samples: number, openMetrics = false): string {
  const out: string[] = [];
  let n = 0;
  let fam = 0;
  while (n < samples) {
    const kind = fam % 10 < 5 ? 'counter' : fam % 10 < 9 ? 'gauge' : 'histogram';
    const name = `app_${kind}_${fam}` + (kind === 'counter' && !openMetrics ? '_total' : '');
    out.push(`# HELP ${name} Synthetic ${kind} number ${fam}.`);
    out.push(`# TYPE ${name} ${kind}`);
    for (let s = 0; s < 100 && n < samples; s++) {
      const labels = `method="${['GET', 'POST', 'PUT', 'DELETE'][s % 4]}",path="/api/v1/items/${s % 25}",status="${200 + (s % 5)}",pod="pod-${s}"`;
      if (kind === 'histogram') {
        let cum = 0;
        for (const le of ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '+Inf']) {
          cum += (s % 7) + 1;
          out.push(`${name}_bucket{${labels},le="${le}"} ${cum}`);
        }
        out.push(`${name}_sum{${labels}} ${(cum * 0.137).toFixed(3)}`);
        out.push(`${name}_count{${labels}} ${cum}`);
        n += 13;
      } else {
        out.push(`${openMetrics && kind === 'counter' ? `${name}_total` : name}{${labels}} ${kind === 'counter' ? 1000 + s * 17 : (s * 1.25).toFixed(2)}`);
        n++;
      }
    }
    fam++;
  }
  if (openMetrics) out.push('# EOF');
  return out.join('\n') + '\n';
}
