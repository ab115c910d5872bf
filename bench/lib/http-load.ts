import autocannon, { type Result } from 'autocannon';

export interface LoadOptions {
  url: string;
  headers?: Record<string, string>;
  connections: number;
  /** Seconds of load. */
  duration: number;
}

export interface LoadResult {
  /** Requests answered over the window. */
  requests: number;
  perS: number;
  non2xx: number;
  errors: number;
  /** Latency percentiles of the 2xx answers, in milliseconds to the microsecond. */
  p50: number;
  p99: number;
}

/**
 * HTTP load with autocannon, each 2xx answer's latency kept as measured. autocannon's own histogram holds whole
 * milliseconds, and a page answered in 4 to 5 ms then reads as 4 or 5: a 1.25× step, more than the 1.2× the
 * grown-store comparison allows. The answers' times come from autocannon's `response` events, which carry them
 * unrounded; one number kept per answer is a few hundred kilobytes for a window.
 */
export async function httpLoad(opts: LoadOptions): Promise<LoadResult> {
  const times: number[] = [];
  const result = await new Promise<Result>((resolve, reject) => {
    const tracker = autocannon(opts, (err, r) => (err ? reject(err) : resolve(r)));
    tracker.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode <= 299) times.push(responseTime);
    });
  });
  const n = times.length;
  // A typed array sorts numerically.
  const sorted = Float64Array.from(times).sort();
  // Nearest rank, as an HDR histogram reads a percentile: the smallest time that q of the answers do not exceed.
  const at = (q: number) => (n ? Number(sorted[Math.min(n - 1, Math.ceil(q * n) - 1)].toFixed(3)) : 0);
  return {
    requests: result.requests.total,
    perS: Math.round(result.requests.total / opts.duration),
    non2xx: result.non2xx,
    errors: result.errors,
    p50: at(0.5),
    p99: at(0.99),
  };
}
