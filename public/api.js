// The one door to the HTTP API: the session (tokens in sessionStorage), JSON in and out, errors as
// ApiError with the API's stable code, and one silent token refresh when an access token has expired.

const KEY = "evently.session";
const listeners = new Set();

export const session = {
  get current() {
    try { return JSON.parse(sessionStorage.getItem(KEY) ?? "null"); } catch { return null; }
  },
  get token() { return this.current?.accessToken ?? null; },
  get user() { return this.current?.user ?? null; },
  save(body) {
    sessionStorage.setItem(KEY, JSON.stringify({ accessToken: body.accessToken, refreshToken: body.refreshToken, user: body.user ?? this.user }));
    for (const fn of listeners) fn(this.user);
  },
  clear() {
    sessionStorage.removeItem(KEY);
    for (const fn of listeners) fn(null);
  },
  /** Called with the user (or null) whenever someone signs in or out. */
  onChange(fn) { listeners.add(fn); return () => listeners.delete(fn); },
};

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `The server answered ${status}`);
    this.status = status;
    this.code = body?.error?.code ?? "HTTP_" + status;
    this.details = body?.error?.details;
  }
}

let refreshing = null;
/** Trades the refresh token for a new pair (one request at a time); false when the session is over. */
export async function refresh() {
  const refreshToken = session.current?.refreshToken;
  if (!refreshToken) return false;
  refreshing ??= fetch("/v1/auth/refresh", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refreshToken }) })
    .then(async (res) => {
      if (!res.ok) return false;
      session.save(await res.json());
      return true;
    })
    .catch(() => false)
    .finally(() => { refreshing = null; });
  return refreshing;
}

/** `api("GET", "/v1/events")`; POSTs carry a fresh Idempotency-Key, so a retried click is safe. */
export async function api(method, path, body, { headers = {}, retried = false } = {}) {
  const h = { "content-type": "application/json", ...headers };
  if (session.token) h.authorization = `Bearer ${session.token}`;
  if (method === "POST" && !h["idempotency-key"]) h["idempotency-key"] = crypto.randomUUID();
  const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (res.status === 401 && session.token && !retried && !path.startsWith("/v1/auth/") && (await refresh())) {
    return api(method, path, body, { headers: { ...headers, "idempotency-key": h["idempotency-key"] }, retried: true });
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}
