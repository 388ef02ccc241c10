import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { makeUser } from "../helpers/fixtures";

// Every POST/PUT/PATCH of /openapi.json, each sent a body the API does not speak.

const call = (path: string, init?: RequestInit) => exports.default.fetch(new Request(`http://evently.test${path}`, init));

interface Route {
  method: string;
  path: string;
}

let routes: Route[] = [];
let doc: any;
/** An admin passes every role check, so a route that reads the body would get to it. */
let admin: Record<string, string>;

beforeAll(async () => {
  admin = (await makeUser("admin")).auth;
  doc = await (await call("/openapi.json")).json();
  routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([template, ops]) =>
    Object.keys(ops)
      .filter((m) => ["post", "put", "patch"].includes(m))
      // Any id will do: the body is refused before anything is looked up.
      .map((m) => ({ method: m.toUpperCase(), path: template.replace(/\{[^}]+\}/g, crypto.randomUUID()) })),
  );
});

/** Sends `init` to every route and lists those that did not answer `status` with `code` in the one error shape. */
async function mismatches(init: { headers?: Record<string, string>; body: BodyInit }, status: number, code: string): Promise<string[]> {
  const wrong: string[] = [];
  for (const r of routes) {
    const res = await call(r.path, { method: r.method, ...init, headers: { ...admin, ...init.headers } });
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    const shaped =
      typeof body?.error?.message === "string" && body.error.code === code && body.error.requestId === res.headers.get("x-request-id");
    if (res.status !== status || !shaped) wrong.push(`${r.method} ${r.path} -> ${res.status} ${text.slice(0, 120)}`);
  }
  return wrong;
}

describe("request bodies that are not JSON", () => {
  it("finds the routes that take a body in the OpenAPI document", () => {
    expect(routes.length).toBeGreaterThanOrEqual(10);
    expect(routes).toContainEqual({ method: "POST", path: "/v1/bookings" });
  });

  it("lists 415 and 400 for every POST, PUT and PATCH route in the OpenAPI document", () => {
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const m of ["post", "put", "patch"]) {
        if (ops[m]) expect(Object.keys(ops[m].responses), `${m} ${path}`).toEqual(expect.arrayContaining(["400", "415"]));
      }
    }
  });

  it("answers a form body with 415 UNSUPPORTED_MEDIA_TYPE on every POST, PUT and PATCH route", async () => {
    const form = { headers: { "content-type": "application/x-www-form-urlencoded" }, body: "holdId=h1&email=a%40b.c" };
    expect(await mismatches(form, 415, "UNSUPPORTED_MEDIA_TYPE")).toEqual([]);
  });

  it("answers a text/plain body with 415 UNSUPPORTED_MEDIA_TYPE on every POST, PUT and PATCH route", async () => {
    const text = { headers: { "content-type": "text/plain" }, body: '{"holdId":"h1"}' };
    expect(await mismatches(text, 415, "UNSUPPORTED_MEDIA_TYPE")).toEqual([]);
  });

  it("answers a body without a content type with 415 UNSUPPORTED_MEDIA_TYPE on every POST, PUT and PATCH route", async () => {
    const untyped = new Request("http://x", { method: "POST", body: new TextEncoder().encode('{"holdId":"h1"}') });
    expect(untyped.headers.get("content-type")).toBeNull();
    expect(await mismatches({ body: new TextEncoder().encode('{"holdId":"h1"}') }, 415, "UNSUPPORTED_MEDIA_TYPE")).toEqual([]);
  });

  it("answers malformed JSON with 400 MALFORMED_JSON on every POST, PUT and PATCH route", async () => {
    const broken = { headers: { "content-type": "application/json" }, body: '{"holdId": ' };
    expect(await mismatches(broken, 400, "MALFORMED_JSON")).toEqual([]);
  });

  it("still takes JSON sent with a charset or a +json media type", async () => {
    for (const type of ["application/json; charset=utf-8", "application/merge-patch+json"]) {
      const res = await call("/v1/auth/login", { method: "POST", headers: { "content-type": type, "cf-connecting-ip": `10.9.0.${type.length}` }, body: JSON.stringify({ email: "nobody@evently.test", password: "not-the-password" }) });
      expect(res.status, type).toBe(401);
      expect(((await res.json()) as any).error.code).toBe("INVALID_CREDENTIALS");
    }
  });

  it("answers an unknown route 404 NOT_FOUND whatever its body", async () => {
    const res = await call("/v1/nothing-here", { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).error.code).toBe("NOT_FOUND");
  });

  it("still accepts a POST without a body where none is needed", async () => {
    const res = await call("/v1/auth/logout", { method: "POST" });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.code).toBe("UNAUTHENTICATED");
  });
});
