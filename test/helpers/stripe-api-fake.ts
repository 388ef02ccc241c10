/**
 * A test double of Stripe's API (the part Evently uses), for tests with no internet. It speaks the
 * wire format the official client speaks: form-encoded bodies with nested keys
 * (`metadata[bookingId]=…`), `Authorization: Bearer sk_test_…`, JSON objects shaped like Stripe's
 * canonical ones (fields as in stripe/openapi's `openapi/fixtures3.json`: payment_intent, refund,
 * event), errors as `{"error":{type,code,message,decline_code?,param?}}` with Stripe's statuses (402
 * card_error, 400 invalid_request_error and idempotency_error, 404 resource_missing, 401 bad key),
 * and `Idempotency-Key` honoured (same key and parameters: the first answer again; other
 * parameters: 400 idempotency_error).
 *
 * Each secret key is an account of its own (objects, idempotency keys, events, knobs), so test
 * files running at once do not see each other. Test payment methods: `pm_card_visa` authorizes,
 * `pm_card_chargeDeclined` is declined, `pm_card_refundFail` authorizes but its refunds go
 * `pending`, then `failed` when read again (real Stripe shows such a refund `succeeded` first; a
 * pending start is what our code must survive). Knobs under `/_fake/` (same bearer key):
 * `POST /_fake/outage {"status":503}` (every /v1 call answers that status; `null` ends it),
 * `POST /_fake/webhook {"url","secret"}` (events are POSTed there, signed), `GET /_fake/events`
 * (every event with its body and a fresh `Stripe-Signature` for a test to post itself).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { stripeSignatureHeader, TEST_STRIPE_KEYS } from "./stripe-signature";

type Json = Record<string, unknown>;
type Params = { [k: string]: string | Params };
type Reply = { status: number; body: Json };

interface Account {
  intents: Map<string, Json & { refundFails?: boolean }>;
  refunds: Map<string, Json>;
  idempotency: Map<string, { request: string; reply: Reply }>;
  events: Json[];
  outage: number | null;
  webhook: { url: string | null; secret: string };
}

class StripeFailure extends Error {
  constructor(readonly status: number, readonly error: Json) {
    super(String(error.message));
  }
}

const invalid = (message: string, extra: Json = {}) => new StripeFailure(400, { type: "invalid_request_error", message, ...extra });
const missing = (kind: string, id: string, param: string) =>
  new StripeFailure(404, { type: "invalid_request_error", code: "resource_missing", param, message: `No such ${kind}: '${id}'`, doc_url: "https://stripe.com/docs/error-codes/resource-missing" });
const unexpectedState = (what: string, status: unknown, allowed: string) =>
  invalid(`This PaymentIntent could not be ${what} because it has a status of ${status}. Only a PaymentIntent with one of the following statuses may be ${what}: ${allowed}.`, { code: "payment_intent_unexpected_state", param: "" });

const randomId = (prefix: string) => `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
const now = () => Math.floor(Date.now() / 1000);

/** `a[b][c]=v` pairs into nested objects, as Stripe reads them. */
export function parseForm(body: string): Params {
  const out: Params = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.replace(/\]/g, "").split("[");
    let node = out;
    for (const part of path.slice(0, -1)) node = (node[part] ??= {}) as Params;
    node[path[path.length - 1]] = value;
  }
  return out;
}

export async function startStripeApiFake(): Promise<{ url: string; close(): Promise<void> }> {
  const accounts = new Map<string, Account>();
  const account = (key: string): Account => {
    let a = accounts.get(key);
    if (!a) accounts.set(key, (a = { intents: new Map(), refunds: new Map(), idempotency: new Map(), events: [], outage: null, webhook: { url: null, secret: TEST_STRIPE_KEYS.webhookSecret } }));
    return a;
  };

  function emit(a: Account, type: string, object: Json, idempotencyKey: string | null) {
    const event = { id: randomId("evt"), object: "event", api_version: "2026-10-28.endive", created: now(), data: { object: structuredClone(object) }, livemode: false, pending_webhooks: a.webhook.url ? 1 : 0, request: { id: randomId("req"), idempotency_key: idempotencyKey }, type };
    a.events.push(event);
    if (a.webhook.url) void deliver(a.webhook.url, a.webhook.secret, JSON.stringify(event));
  }

  async function deliver(url: string, secret: string, body: string) {
    try {
      await fetch(url, { method: "POST", headers: { "content-type": "application/json; charset=utf-8", "stripe-signature": await stripeSignatureHeader(body, secret) }, body });
    } catch {
      // Stripe retries failed deliveries for days; this fake does not, a test reads GET /_fake/events instead.
    }
  }

  function intentOf(a: Account, id: string): Json & { refundFails?: boolean } {
    const pi = a.intents.get(id);
    if (!pi) throw missing("payment_intent", id, "intent");
    return pi;
  }

  /** Confirming with a payment method: what the browser's Payment Element does with the client secret. */
  function confirm(a: Account, pi: Json & { refundFails?: boolean }, method: string | undefined, key: string | null) {
    if (!["requires_payment_method", "requires_confirmation"].includes(String(pi.status))) throw unexpectedState("confirmed", pi.status, "requires_payment_method, requires_confirmation");
    if (method === undefined) throw invalid("You must provide a payment_method to confirm this PaymentIntent.", { code: "parameter_missing", param: "payment_method" });
    if (!["pm_card_visa", "pm_card_chargeDeclined", "pm_card_refundFail"].includes(method)) throw missing("PaymentMethod", method, "payment_method");
    pi.payment_method = method;
    if (method === "pm_card_chargeDeclined") {
      const error = { type: "card_error", code: "card_declined", decline_code: "generic_decline", message: "Your card was declined.", doc_url: "https://stripe.com/docs/error-codes/card-declined" };
      Object.assign(pi, { status: "requires_payment_method", last_payment_error: error });
      emit(a, "payment_intent.payment_failed", pi, key);
      throw new StripeFailure(402, { ...error, payment_intent: structuredClone(pi) });
    }
    pi.refundFails = method === "pm_card_refundFail";
    const charge = randomId("ch");
    if (pi.capture_method === "manual") {
      Object.assign(pi, { status: "requires_capture", amount_capturable: pi.amount, latest_charge: charge, last_payment_error: null });
      emit(a, "payment_intent.amount_capturable_updated", pi, key);
    } else {
      Object.assign(pi, { status: "succeeded", amount_received: pi.amount, latest_charge: charge, last_payment_error: null });
      emit(a, "payment_intent.succeeded", pi, key);
    }
  }

  function route(a: Account, method: string, path: string, p: Params, key: string | null): Reply {
    const json = (body: Json, status = 200): Reply => {
      const { refundFails: _internal, ...visible } = body as Json & { refundFails?: boolean };
      return { status, body: structuredClone(visible) };
    };
    let m: RegExpMatchArray | null;
    if (method === "POST" && path === "/v1/payment_intents") {
      const amount = Number(p.amount);
      if (!Number.isInteger(amount) || amount < 1) throw invalid("Missing required param: amount.", { code: "parameter_missing", param: "amount" });
      if (typeof p.currency !== "string" || !/^[a-z]{3}$/.test(p.currency)) throw invalid("Invalid currency.", { code: "parameter_invalid_string", param: "currency" });
      const id = randomId("pi");
      const apm = p.automatic_payment_methods as Params | undefined;
      const pi: Json = {
        id, object: "payment_intent", amount, amount_capturable: 0, amount_details: { tip: {} }, amount_received: 0, application: null, application_fee_amount: null,
        automatic_payment_methods: apm ? { enabled: apm.enabled === "true", ...(apm.allow_redirects && { allow_redirects: apm.allow_redirects }) } : null,
        canceled_at: null, cancellation_reason: null, capture_method: p.capture_method === "manual" ? "manual" : "automatic", client_secret: `${id}_secret_${randomId("s").slice(2)}`,
        confirmation_method: "automatic", created: now(), currency: p.currency, customer: null, description: null, last_payment_error: null, latest_charge: null, livemode: false,
        metadata: (p.metadata as Params | undefined) ?? {}, next_action: null, on_behalf_of: null, payment_method: null, payment_method_configuration_details: null, payment_method_options: {},
        payment_method_types: ["card"], processing: null, receipt_email: null, review: null, setup_future_usage: null, shipping: null, statement_descriptor: null,
        statement_descriptor_suffix: null, status: "requires_payment_method", transfer_data: null, transfer_group: null,
      };
      a.intents.set(id, pi);
      if (p.confirm === "true") confirm(a, pi, p.payment_method as string | undefined, key);
      else if (typeof p.payment_method === "string") Object.assign(pi, { payment_method: p.payment_method, status: "requires_confirmation" });
      return json(pi);
    }
    if (method === "GET" && (m = path.match(/^\/v1\/payment_intents\/([^/]+)$/))) return json(intentOf(a, m[1]));
    if (method === "POST" && (m = path.match(/^\/v1\/payment_intents\/([^/]+)\/(confirm|capture|cancel)$/))) {
      const pi = intentOf(a, m[1]);
      if (m[2] === "confirm") confirm(a, pi, (p.payment_method as string | undefined) ?? (pi.payment_method as string | undefined), key);
      if (m[2] === "capture") {
        if (pi.status !== "requires_capture") throw unexpectedState("captured", pi.status, "requires_capture");
        Object.assign(pi, { status: "succeeded", amount_received: pi.amount, amount_capturable: 0 });
        emit(a, "payment_intent.succeeded", pi, key);
      }
      if (m[2] === "cancel") {
        if (["succeeded", "canceled"].includes(String(pi.status))) {
          throw invalid(`You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.`, { code: "payment_intent_unexpected_state" });
        }
        Object.assign(pi, { status: "canceled", canceled_at: now(), cancellation_reason: (p.cancellation_reason as string | undefined) ?? null, amount_capturable: 0 });
        emit(a, "payment_intent.canceled", pi, key);
      }
      return json(pi);
    }
    if (method === "POST" && path === "/v1/refunds") {
      const piId = String(p.payment_intent ?? "");
      const pi = intentOf(a, piId);
      if (pi.status !== "succeeded") throw invalid(`This PaymentIntent (${piId}) does not have a successful charge to refund.`, { code: "charge_not_captured", param: "payment_intent" });
      const refunded = [...a.refunds.values()].filter((r) => r.payment_intent === piId && r.status !== "failed" && r.status !== "canceled").reduce((s, r) => s + Number(r.amount), 0);
      const amount = p.amount === undefined ? Number(pi.amount) - refunded : Number(p.amount);
      if (!Number.isInteger(amount) || amount < 1) throw invalid("Invalid positive integer", { code: "parameter_invalid_integer", param: "amount" });
      if (amount > Number(pi.amount) - refunded) throw invalid(`Refund amount (${amount}) is greater than unrefunded amount on charge (${Number(pi.amount) - refunded})`, { code: "amount_too_large", param: "amount" });
      const refund: Json = {
        id: randomId("re"), object: "refund", amount, balance_transaction: null, charge: pi.latest_charge, created: now(), currency: pi.currency,
        destination_details: { card: { type: "refund" }, type: "card" }, metadata: (p.metadata as Params | undefined) ?? {}, payment_intent: piId, reason: (p.reason as string | undefined) ?? null,
        receipt_number: null, source_transfer_reversal: null, status: pi.refundFails ? "pending" : "succeeded", transfer_reversal: null, payment_method: pi.payment_method,
      };
      a.refunds.set(String(refund.id), refund);
      emit(a, "refund.created", refund, key);
      return json(refund);
    }
    if (method === "GET" && (m = path.match(/^\/v1\/refunds\/([^/]+)$/))) {
      const refund = a.refunds.get(m[1]);
      if (!refund) throw missing("refund", m[1], "refund");
      if (refund.status === "pending" && a.intents.get(String(refund.payment_intent))?.refundFails) {
        Object.assign(refund, { status: "failed", failure_reason: "expired_or_canceled_card", failure_balance_transaction: randomId("txn") });
        emit(a, "refund.failed", refund, null);
      }
      return json(refund);
    }
    throw new StripeFailure(404, { type: "invalid_request_error", message: `Unrecognized request URL (${method}: ${path}).` });
  }

  async function control(a: Account, method: string, path: string, body: string): Promise<Reply> {
    if (method === "POST" && path === "/_fake/outage") return ((a.outage = (JSON.parse(body) as { status: number | null }).status), { status: 200, body: { outage: a.outage } });
    if (method === "POST" && path === "/_fake/webhook") {
      const w = JSON.parse(body) as { url?: string | null; secret?: string };
      a.webhook = { url: w.url ?? null, secret: w.secret ?? a.webhook.secret };
      return { status: 200, body: { url: a.webhook.url } };
    }
    if (method === "GET" && path === "/_fake/events") {
      const data = await Promise.all(a.events.map(async (e) => ({ id: e.id, type: e.type, body: JSON.stringify(e), signature: await stripeSignatureHeader(JSON.stringify(e), a.webhook.secret) })));
      return { status: 200, body: { data } };
    }
    return { status: 404, body: { error: { type: "invalid_request_error", message: `No fake control ${method} ${path}` } } };
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://fake");
    const send = (r: Reply, headers: Record<string, string> = {}) => {
      res.writeHead(r.status, { "content-type": "application/json", "request-id": randomId("req"), ...headers });
      res.end(JSON.stringify(r.body));
    };
    const secret = /^Bearer (sk_test_\w+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (!secret) return send({ status: 401, body: { error: { type: "invalid_request_error", message: "Invalid API Key provided (this fake takes sk_test_ keys only)." } } });
    const a = account(secret);
    if (url.pathname.startsWith("/_fake/")) return send(await control(a, method, url.pathname, body));
    if (a.outage !== null) return send({ status: a.outage, body: { error: { type: "api_error", message: "An unknown error occurred (the fake's outage knob)." } } });
    if (method === "POST" && !/^application\/x-www-form-urlencoded/.test(req.headers["content-type"] ?? "") && body !== "") {
      return send({ status: 400, body: { error: { type: "invalid_request_error", message: "Stripe takes application/x-www-form-urlencoded bodies." } } });
    }
    const key = typeof req.headers["idempotency-key"] === "string" ? req.headers["idempotency-key"] : null;
    // Stripe compares the parameters of a reused key; order of the pairs does not matter.
    const request = `${method} ${url.pathname} ${[...new URLSearchParams(body)].map(([k, v]) => `${k}=${v}`).sort().join("&")}`;
    if (method === "POST" && key !== null) {
      const seen = a.idempotency.get(key);
      if (seen && seen.request !== request) {
        return send({ status: 400, body: { error: { type: "idempotency_error", message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.` } } });
      }
      if (seen) return send(seen.reply, { "idempotent-replayed": "true" });
    }
    let reply: Reply;
    try {
      reply = route(a, method, url.pathname, method === "GET" ? {} : parseForm(body), key);
    } catch (e) {
      if (!(e instanceof StripeFailure)) throw e;
      reply = { status: e.status, body: { error: e.error } };
    }
    if (method === "POST" && key !== null) a.idempotency.set(key, { request, reply });
    send(reply);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { type: "api_error", message: String(e) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
