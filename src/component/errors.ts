// The consumer error contract. A consumer's promise either resolves (accepted)
// or rejects with a ConsumerError that says whether the failure is permanent or
// retryable, and for how long a client should wait before retrying.
// Receivers map these to OTLP status codes (see src/receivers/otlp/status.ts).

export type ErrorKind =
  | 'invalid' // bad data: 400 / INVALID_ARGUMENT, never retried
  | 'too_large' // 413 / RESOURCE_EXHAUSTED without RetryInfo, never retried
  | 'unauthenticated' // 401 / UNAUTHENTICATED
  | 'permission_denied' // 403 / PERMISSION_DENIED
  | 'exhausted' // back-pressure: 429 / RESOURCE_EXHAUSTED + RetryInfo
  | 'unavailable' // transient: 503 / UNAVAILABLE (+ RetryInfo when retryAfterMs is set)
  | 'internal'; // permanent failure without a better code: 500 / INTERNAL

export class ConsumerError extends Error {
  readonly kind: ErrorKind;
  readonly permanent: boolean;
  /** How long the client should wait before retrying, when known. */
  readonly retryAfterMs: number | undefined;
  /** Stable machine-readable code, e.g. SIEVE_ERR_MEMORY_LIMIT. */
  readonly code: string;

  constructor(kind: ErrorKind, message: string, opts: { retryAfterMs?: number; code?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ConsumerError';
    this.kind = kind;
    this.permanent = !(kind === 'exhausted' || kind === 'unavailable');
    this.retryAfterMs = opts.retryAfterMs;
    this.code = opts.code ?? `SIEVE_ERR_${kind.toUpperCase()}`;
  }
}

/** A failure that will fail again the same way: do not retry. */
export function permanentError(message: string, code?: string, cause?: unknown): ConsumerError {
  return new ConsumerError('internal', message, { code, cause });
}

/** Bad data from the client. */
export function invalidError(message: string, code = 'SIEVE_ERR_INVALID_DATA'): ConsumerError {
  return new ConsumerError('invalid', message, { code });
}

/** Back-pressure: the client should retry after `retryAfterMs`. */
export function throttleError(message: string, retryAfterMs: number, code = 'SIEVE_ERR_THROTTLED'): ConsumerError {
  return new ConsumerError('exhausted', message, { retryAfterMs, code });
}

/** A transient failure, e.g. a backend that is down or a daemon shutting down. */
export function unavailableError(message: string, retryAfterMs?: number, code = 'SIEVE_ERR_UNAVAILABLE', cause?: unknown): ConsumerError {
  return new ConsumerError('unavailable', message, { retryAfterMs, code, cause });
}

/** Wraps any thrown value into a ConsumerError; unknown errors are treated as retryable. */
export function asConsumerError(err: unknown): ConsumerError {
  if (err instanceof ConsumerError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return unavailableError(msg, undefined, 'SIEVE_ERR_UNAVAILABLE', err);
}

export function isPermanent(err: unknown): boolean {
  return err instanceof ConsumerError && err.permanent;
}

/** Thrown by codecs on malformed input. */
export class DecodeError extends Error {
  readonly code = 'SIEVE_ERR_DECODE';
  constructor(message: string, readonly offset?: number) {
    super(offset === undefined ? message : `${message} at byte ${offset}`);
    this.name = 'DecodeError';
  }
}
