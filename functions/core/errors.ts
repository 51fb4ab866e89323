/**
 * The one error type of Sesame. Codes form a closed set, each mapped to one HTTP
 * status here and nowhere else. Messages are written for the person reading them
 * and must never carry secret material: callers pass facts (field names, ids,
 * upstream error codes), never values.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  unknown_tenant: 404,
  unknown_credential: 404,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  credential_incomplete: 409,
  credential_expired: 409,
  payload_too_large: 413,
  upstream_rejected: 502,
  upstream_unavailable: 503,
  store_corrupt: 500,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

const TITLES: Record<ErrorCode, string> = {
  invalid_request: 'Invalid request',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  unknown_tenant: 'Unknown tenant',
  unknown_credential: 'Unknown credential',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  conflict: 'Conflict',
  credential_incomplete: 'Credential incomplete',
  credential_expired: 'Credential expired',
  payload_too_large: 'Payload too large',
  upstream_rejected: 'Upstream rejected the request',
  upstream_unavailable: 'Upstream unavailable',
  store_corrupt: 'Secret store corrupt',
  internal: 'Internal error',
};

/** Extra facts safe to show to the caller (never secrets). */
export type ErrorDetails = Record<string, string | number | boolean | string[]>;

export class SesameError extends Error {
  override readonly name = 'SesameError';
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  /** Seconds, for 503 answers. */
  readonly retryAfter: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: ErrorDetails; retryAfter?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
    this.retryAfter = options.retryAfter;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isSesameError(err: unknown, code?: ErrorCode): err is SesameError {
  return err instanceof SesameError && (code === undefined || err.code === code);
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  [extra: string]: unknown;
}

/**
 * RFC 9457 problem document. Errors that are not SesameErrors, and 5xx internals,
 * are reduced to a generic message so that no internal detail reaches a caller.
 */
export function toProblem(err: unknown): { status: number; problem: Problem; headers: Record<string, string> } {
  const e = err instanceof SesameError ? err : new SesameError('internal', 'Internal error', { cause: err });
  const internal = e.code === 'internal' || e.code === 'store_corrupt';
  const status = e.status;
  const problem: Problem = {
    ...(internal ? {} : e.details),
    type: `urn:sesame:problem:${e.code}`,
    title: TITLES[e.code],
    status,
    detail: internal ? 'An internal error occurred; the operator has been told in the logs.' : e.message,
    code: e.code,
  };
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (e.retryAfter !== undefined) headers['retry-after'] = String(e.retryAfter);
  if (e.code === 'unauthorized') headers['www-authenticate'] = 'Bearer realm="sesame"';
  return { status, problem, headers };
}

/**
 * What may be logged about an error: its code and its message as `detail`, never a
 * cause's payload. Not `message`: the Powertools logger reserves that key for the log
 * line's own message and drops any other value given under it.
 */
export function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof SesameError) {
    const cause = err.cause instanceof Error ? `${err.cause.name}: ${err.cause.message}` : undefined;
    return { code: err.code, detail: err.message, ...(cause && err.code !== 'store_corrupt' ? { cause } : {}) };
  }
  if (err instanceof Error) return { code: 'internal', error: err.name, detail: err.message, stack: err.stack };
  return { code: 'internal', error: typeof err };
}
