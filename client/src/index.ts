/**
 * The typed HTTP client: openapi-fetch over the types openapi-typescript generates from the Worker's
 * own OpenAPI document (client/openapi.json, `npm run client:generate`). Every path, parameter,
 * body and response is checked by the compiler against the document the Worker serves.
 */
import createFetchClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./api";

export type { components, paths } from "./api";
export type Schemas = components["schemas"];
export { LiveSeatMap } from "./live";
export type * from "./live";

export interface EventlyClientOptions {
  /** Where the API answers, e.g. http://127.0.0.1:8787. */
  baseUrl: string;
  /** An access token sent as `Authorization: Bearer …` (change it later with `setToken`). */
  token?: string;
  fetch?: typeof globalThis.fetch;
}

export type EventlyClient = Client<paths> & {
  /** The access token sent from now on (undefined: anonymous). */
  setToken(token: string | undefined): void;
};

export function createEventlyClient(opts: EventlyClientOptions): EventlyClient {
  let token = opts.token;
  const client = createFetchClient<paths>({ baseUrl: opts.baseUrl.replace(/\/$/, ""), fetch: opts.fetch });
  client.use({
    onRequest({ request }) {
      if (token && !request.headers.has("authorization")) request.headers.set("authorization", `Bearer ${token}`);
      return request;
    },
  });
  return Object.assign(client, { setToken: (t: string | undefined) => void (token = t) });
}

/** The API's one error shape, thrown by `unwrap`. */
export class EventlyError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
    readonly details?: unknown,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = "EventlyError";
  }
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** The body of a successful answer, or an `EventlyError` carrying the API's error code. */
export function unwrap<T>(answer: Answer<T>): T {
  if (answer.error === undefined && answer.response.ok) return answer.data as T;
  const e = (answer.error as { error?: Schemas["Error"]["error"] } | undefined)?.error;
  throw new EventlyError(answer.response.status, e?.code ?? "HTTP_ERROR", e?.message ?? answer.response.statusText, e?.requestId, e?.details);
}

/** A fresh Idempotency-Key for a POST that creates something (send the same one on a retry). */
export function idempotencyKey(): string {
  return crypto.randomUUID();
}
