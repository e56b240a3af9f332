/** Failures of an API call, by what the caller should do about them. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** 409: the object changed since it was read. Re-read and decide again. */
export class ConflictError extends ApiError {}

/** 404: the object is gone. A handled outcome, never a reason to redeliver. */
export class NotFoundError extends ApiError {}

/** 401/403: the function's ServiceAccount may not do this. Terminal until RBAC changes. */
export class ForbiddenError extends ApiError {}

/** 422/400: the API rejected the request itself. Terminal. */
export class InvalidError extends ApiError {}

/** 429, 5xx, timeouts, resets: try again later (Knative redelivers on 503). */
export class TransientError extends ApiError {}

function statusOf(error: unknown): number | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'number') return error.code;
  return undefined;
}

function bodyMessage(error: unknown): string | undefined {
  if (!error || typeof error !== 'object' || !('body' in error)) return undefined;
  const body = error.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      return typeof parsed.message === 'string' ? parsed.message : body.slice(0, 300);
    } catch {
      return body.slice(0, 300);
    }
  }
  if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string') return body.message;
  return undefined;
}

/** Turns whatever client-node or the network threw into one of the classes above. */
export function classify(error: unknown, what: string): ApiError {
  if (error instanceof ApiError) return error;
  const status = statusOf(error);
  const detail = bodyMessage(error) ?? (error instanceof Error ? error.message : String(error));
  const message = `${what}: ${status ? `HTTP ${status}: ` : ''}${detail}`;
  if (status === 409) return new ConflictError(message, status, { cause: error });
  if (status === 404) return new NotFoundError(message, status, { cause: error });
  if (status === 401 || status === 403) return new ForbiddenError(message, status, { cause: error });
  if (status === 400 || status === 422) return new InvalidError(message, status, { cause: error });
  return new TransientError(message, status, { cause: error });
}
