import type { ContentfulStatusCode } from "hono/utils/http-status";

export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  NOT_ADMITTED: 403,
  ADMISSION_SUPERSEDED: 403,
  INVITATION_WRONG_ACCOUNT: 403,
  POW_REQUIRED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  SEAT_UNAVAILABLE: 409,
  SALES_CLOSED: 409,
  SEATS_AVAILABLE: 409,
  IDEMPOTENCY_CONFLICT: 409,
  IDEMPOTENCY_IN_PROGRESS: 409,
  EMAIL_TAKEN: 409,
  INVALID_STATE: 409,
  CANCELLATION_CLOSED: 409,
  TICKETS_IN_USE: 409,
  WAITLIST_CLOSED: 409,
  EVENT_CANCELLED: 409,
  QUOTA_EXHAUSTED: 409,
  VOUCHER_EXHAUSTED: 409,
  TICKET_TYPE_SOLD: 409,
  NO_QUEUE: 409,
  LAST_OWNER: 409,
  INVITATION_USED: 409,
  ALREADY_MEMBER: 409,
  HOLD_EXPIRED: 410,
  INVITATION_EXPIRED: 410,
  INVITATION_REVOKED: 410,
  INVITATION_INVALID: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UPGRADE_REQUIRED: 426,
  LIMIT_EXCEEDED: 422,
  VOUCHER_INVALID: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  DEPENDENCY_UNAVAILABLE: 503,
  OVERLOADED: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The one error type of the API; `onError` turns it into the one JSON error shape. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "AppError";
  }

  get status(): ContentfulStatusCode {
    return ERROR_STATUS[this.code];
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string; details?: unknown };
}

export function errorBody(err: AppError, requestId: string): ErrorBody {
  return {
    error: {
      code: err.code,
      message: err.message,
      requestId,
      ...(err.details === undefined ? {} : { details: err.details }),
    },
  };
}

/** Expected failures crossing an RPC boundary travel as values: thrown errors lose their fields. */
export type Result<T, C extends string = ErrorCode> =
  | { ok: true; value: T }
  | { ok: false; code: C; message: string; details?: unknown };

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
export const fail = <C extends string>(code: C, message: string, details?: unknown) =>
  ({ ok: false, code, message, ...(details === undefined ? {} : { details }) }) as const;
