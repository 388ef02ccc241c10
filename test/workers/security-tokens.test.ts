import { type JWK, exportJWK, exportSPKI, generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { signAccessToken } from "../../src/auth/tokens";
import { parseConfig, type Env } from "../../src/env";
import { users } from "../../src/db/schema";
import { startSession } from "../../src/services/auth";
import { eq } from "drizzle-orm";
import { type TestUser, call, expectError, makeSession, makeUser, testEnv, withDb } from "../helpers/fixtures";
import { b64url, claimsFor, hmacSigner, jws, keySigner, nowSeconds } from "../helpers/jwt";

const HS = { alg: "HS256", typ: "at+jwt" };
const CURRENT_KID = "evently-2026-05";
const PREVIOUS_KID = "evently-2025-11";

let user: TestUser;
let admin: TestUser;
let asymEnv: Env;
let keys: {
  current: CryptoKey;
  previous: CryptoKey;
  previousPublic: JWK;
  previousPem: string;
  attacker: CryptoKey;
  attackerPublic: JWK;
};

beforeAll(async () => {
  [user, admin] = await Promise.all([makeUser("user"), makeUser("admin")]);
  const current = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const previous = await generateKeyPair("RS256", { extractable: true, modulusLength: 2048 });
  const attacker = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const previousPublic = { ...(await exportJWK(previous.publicKey)), kid: PREVIOUS_KID, alg: "RS256" };
  keys = {
    current: current.privateKey,
    previous: previous.privateKey,
    previousPublic,
    previousPem: await exportSPKI(previous.publicKey),
    attacker: attacker.privateKey,
    attackerPublic: await exportJWK(attacker.publicKey),
  };
  asymEnv = {
    ...testEnv,
    JWT_PRIVATE_JWK: JSON.stringify({ ...(await exportJWK(current.privateKey)), kid: CURRENT_KID, alg: "EdDSA" }),
    JWT_PUBLIC_JWKS: JSON.stringify({ keys: [previousPublic] }),
  };
});

const hs = (payload: Record<string, unknown> | string, header: Record<string, unknown> = HS) => jws(header, payload, hmacSigner());
const withClaims = (patch: Record<string, unknown>) => {
  const c = { ...claimsFor(user.id), ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete c[k];
  return c;
};
const asymHeader = (kid: string, alg = "EdDSA") => ({ alg, typ: "at+jwt", kid });

/** Every attack is sent to GET /v1/me, which answers 200 for any token that gets through. */
async function me(authorization: string | null, env?: Env): Promise<Response> {
  const headers: Record<string, string> = authorization === null ? {} : { authorization };
  if (!env) return call("/v1/me", { headers });
  return createApp().request("/v1/me", { headers }, env);
}

async function expectRefused(res: Response): Promise<void> {
  const body: any = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(401);
  expectError(body, "UNAUTHENTICATED");
  expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
}

describe("controls: the forging helpers make tokens the API accepts when nothing is wrong", () => {
  it("accepts a hand-made HS256 token with every claim right", async () => {
    expect((await me(`Bearer ${await hs(claimsFor(user.id))}`)).status).toBe(200);
  });

  it("accepts the current EdDSA key and, during rotation, the previous RS256 key", async () => {
    expect((await me(`Bearer ${await jws(asymHeader(CURRENT_KID), claimsFor(user.id), keySigner(keys.current))}`, asymEnv)).status).toBe(200);
    expect((await me(`Bearer ${await jws(asymHeader(PREVIOUS_KID, "RS256"), claimsFor(user.id), keySigner(keys.previous))}`, asymEnv)).status).toBe(200);
  });

  it("accepts a token signed with the previous HS256 secret only while JWT_SECRET_PREVIOUS names it", async () => {
    const oldSecret = "the-previous-secret-0123456789abcdef0123456789";
    const token = await jws(HS, claimsFor(user.id), hmacSigner(oldSecret));
    expect((await me(`Bearer ${token}`, { ...testEnv, JWT_SECRET_PREVIOUS: oldSecret })).status).toBe(200);
    await expectRefused(await me(`Bearer ${token}`));
  });

  it("signs with the configured private key and kid, and the scheme name is case-insensitive", async () => {
    const { token } = await signAccessToken(asymEnv, parseConfig(asymEnv), { id: user.id, role: "user" }, crypto.randomUUID());
    expect(JSON.parse(atob(token.split(".")[0].replace(/-/g, "+").replace(/_/g, "/")))).toMatchObject({ alg: "EdDSA", kid: CURRENT_KID, typ: "at+jwt" });
    expect((await me(`bEaReR ${token}`, asymEnv)).status).toBe(200);
  });
});

interface Attack {
  name: string;
  authorization: () => Promise<string | null>;
  /** Runs against a deployment configured with asymmetric keys. */
  asymmetric?: true;
}

const attacks: Attack[] = [
  // The Authorization header itself
  { name: "no Authorization header", authorization: async () => null },
  { name: "an empty bearer (`Bearer ` and nothing else)", authorization: async () => "Bearer " },
  { name: "the word Bearer alone", authorization: async () => "Bearer" },
  { name: "the Basic scheme with credentials", authorization: async () => `Basic ${btoa("admin@evently.test:evently-admin-pw")}` },
  { name: "a valid token under the Token scheme", authorization: async () => `Token ${user.token}` },
  { name: "a valid token with no scheme at all", authorization: async () => user.token },
  { name: "two tokens in one header", authorization: async () => `Bearer ${user.token} ${user.token}` },
  { name: "garbage instead of a token", authorization: async () => "Bearer not-a-jwt" },
  { name: "three segments of garbage", authorization: async () => "Bearer aaaa.bbbb.cccc" },
  { name: "a five-segment JWE instead of a JWS", authorization: async () => `Bearer ${user.token.split(".")[0]}.a.b.c.d` },
  { name: "an oversized token (over 4 KiB)", authorization: async () => `Bearer ${await hs({ ...claimsFor(user.id), pad: "x".repeat(5000) })}` },
  // Signature and algorithm
  { name: "alg none without a signature", authorization: async () => `Bearer ${await jws({ alg: "none", typ: "at+jwt" }, claimsFor(user.id), null)}` },
  { name: "alg None in another case", authorization: async () => `Bearer ${await jws({ alg: "None", typ: "at+jwt" }, claimsFor(user.id), null)}` },
  { name: "alg none carrying a valid HS256 signature", authorization: async () => `Bearer ${await jws({ alg: "none", typ: "at+jwt" }, claimsFor(user.id), hmacSigner())}` },
  {
    name: "a tampered payload (role raised to admin) under the original signature",
    authorization: async () => {
      const [h, , s] = user.token.split(".");
      return `Bearer ${h}.${b64url(JSON.stringify({ ...claimsFor(user.id, "admin") }))}.${s}`;
    },
  },
  {
    name: "a tampered signature",
    authorization: async () => {
      const [h, p, s] = user.token.split(".");
      const i = 10;
      return `Bearer ${h}.${p}.${s.slice(0, i)}${s[i] === "A" ? "B" : "A"}${s.slice(i + 1)}`;
    },
  },
  { name: "a stripped signature", authorization: async () => `Bearer ${user.token.split(".").slice(0, 2).join(".")}.` },
  { name: "signed with another deployment's secret", authorization: async () => `Bearer ${await jws(HS, claimsFor(user.id), hmacSigner("some-other-secret-0123456789abcdef0123456789"))}` },
  { name: "HS384 with the right secret (algorithm not pinned)", authorization: async () => `Bearer ${await jws({ ...HS, alg: "HS384" }, claimsFor(user.id), hmacSigner(undefined, "SHA-384"))}` },
  { name: "RS256 signed with an attacker's key against an HS256 deployment", authorization: async () => `Bearer ${await jws({ alg: "RS256", typ: "at+jwt" }, claimsFor(user.id), keySigner(keys.previous))}` },
  {
    name: "an attacker's public key embedded in the header (jwk)",
    authorization: async () => `Bearer ${await jws({ alg: "EdDSA", typ: "at+jwt", jwk: keys.attackerPublic }, claimsFor(user.id), keySigner(keys.attacker))}`,
  },
  { name: "an unknown critical header extension", authorization: async () => `Bearer ${await hs(claimsFor(user.id), { ...HS, crit: ["x-evil"], "x-evil": true })}` },
  { name: "a payload that is not JSON", authorization: async () => `Bearer ${await hs("not json at all")}` },
  // Claims
  { name: "expired (exp in the past)", authorization: async () => `Bearer ${await hs(withClaims({ iat: nowSeconds() - 1000, exp: nowSeconds() - 100 }))}` },
  { name: "not yet valid (nbf in the future)", authorization: async () => `Bearer ${await hs(withClaims({ nbf: nowSeconds() + 600 }))}` },
  { name: "issued in the future (iat ahead of the clock)", authorization: async () => `Bearer ${await hs(withClaims({ iat: nowSeconds() + 600, exp: nowSeconds() + 900 }))}` },
  { name: "missing exp", authorization: async () => `Bearer ${await hs(withClaims({ exp: undefined }))}` },
  { name: "missing iat", authorization: async () => `Bearer ${await hs(withClaims({ iat: undefined }))}` },
  { name: "exp that is not a number", authorization: async () => `Bearer ${await hs(withClaims({ exp: "tomorrow" }))}` },
  { name: "a lifetime longer than this deployment issues (exp a day out)", authorization: async () => `Bearer ${await hs(withClaims({ exp: nowSeconds() + 86_400 }))}` },
  { name: "missing sub", authorization: async () => `Bearer ${await hs(withClaims({ sub: undefined }))}` },
  { name: "an empty sub", authorization: async () => `Bearer ${await hs(withClaims({ sub: "" }))}` },
  { name: "missing jti", authorization: async () => `Bearer ${await hs(withClaims({ jti: undefined }))}` },
  { name: "missing sid (no session behind the token)", authorization: async () => `Bearer ${await hs(withClaims({ sid: undefined }))}` },
  { name: "wrong iss", authorization: async () => `Bearer ${await hs(withClaims({ iss: "https://evil.example" }))}` },
  { name: "missing iss", authorization: async () => `Bearer ${await hs(withClaims({ iss: undefined }))}` },
  { name: "wrong aud", authorization: async () => `Bearer ${await hs(withClaims({ aud: "another-api" }))}` },
  { name: "an aud list without our audience", authorization: async () => `Bearer ${await hs(withClaims({ aud: ["another-api", "a-third-api"] }))}` },
  { name: "an unknown role", authorization: async () => `Bearer ${await hs(withClaims({ role: "superadmin" }))}` },
  { name: "missing role", authorization: async () => `Bearer ${await hs(withClaims({ role: undefined }))}` },
  { name: "a JWT of another type (typ JWT, e.g. an ID token)", authorization: async () => `Bearer ${await hs(claimsFor(user.id), { alg: "HS256", typ: "JWT" })}` },
  { name: "no typ header", authorization: async () => `Bearer ${await hs(claimsFor(user.id), { alg: "HS256" })}` },
  // Asymmetric deployments: key selection
  { name: "HS256 signed with the shared secret against an asymmetric deployment", asymmetric: true, authorization: async () => `Bearer ${await hs(claimsFor(user.id))}` },
  {
    name: "HS/RS confusion: HS256 keyed with the published RSA public key (JWK)",
    asymmetric: true,
    authorization: async () => `Bearer ${await jws({ alg: "HS256", typ: "at+jwt", kid: PREVIOUS_KID }, claimsFor(user.id), hmacSigner(JSON.stringify(keys.previousPublic)))}`,
  },
  {
    name: "HS/RS confusion: HS256 keyed with the RSA public key (PEM)",
    asymmetric: true,
    authorization: async () => `Bearer ${await jws({ alg: "HS256", typ: "at+jwt", kid: PREVIOUS_KID }, claimsFor(user.id), hmacSigner(keys.previousPem))}`,
  },
  { name: "an unknown kid", asymmetric: true, authorization: async () => `Bearer ${await jws(asymHeader("who-knows"), claimsFor(user.id), keySigner(keys.current))}` },
  { name: "no kid while keys are rotating", asymmetric: true, authorization: async () => `Bearer ${await jws({ alg: "EdDSA", typ: "at+jwt" }, claimsFor(user.id), keySigner(keys.current))}` },
  { name: "the current kid signed with an attacker's key", asymmetric: true, authorization: async () => `Bearer ${await jws(asymHeader(CURRENT_KID), claimsFor(user.id), keySigner(keys.attacker))}` },
  { name: "the RS256 key's kid with alg EdDSA", asymmetric: true, authorization: async () => `Bearer ${await jws(asymHeader(PREVIOUS_KID), claimsFor(user.id), keySigner(keys.current))}` },
  // Revocation: tokens that were valid a moment ago
  {
    name: "the access token (its jti and session) after logout",
    authorization: async () => {
      const s = await makeSession();
      expect((await call("/v1/auth/logout", { method: "POST", headers: s.auth })).status).toBe(204);
      return s.auth.authorization;
    },
  },
  {
    name: "the access token of a disabled user",
    authorization: async () => {
      const s = await makeSession();
      expect((await call(`/v1/admin/users/${s.id}`, { method: "PATCH", json: { disabled: true }, headers: admin.auth })).status).toBe(200);
      return s.auth.authorization;
    },
  },
  {
    name: "an access token whose refresh token was replayed (family revoked)",
    authorization: async () => {
      const s = await makeSession();
      expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: s.refreshToken } })).status).toBe(200);
      expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: s.refreshToken } })).status).toBe(401);
      return s.auth.authorization;
    },
  },
  {
    name: "an admin token minted before the account was demoted",
    authorization: async () => {
      const s = await makeSession("admin");
      expect((await call(`/v1/admin/users/${s.id}`, { method: "PATCH", json: { role: "user" }, headers: admin.auth })).status).toBe(200);
      return s.auth.authorization;
    },
  },
];

describe("token attacks: each answers 401 UNAUTHENTICATED with the one error shape", () => {
  it("has at least 30 named attacks", () => {
    expect(attacks.length).toBeGreaterThanOrEqual(30);
    expect(new Set(attacks.map((a) => a.name)).size).toBe(attacks.length);
  });

  for (const attack of attacks) {
    it(`refuses ${attack.name}`, async () => {
      await expectRefused(await me(await attack.authorization(), attack.asymmetric ? asymEnv : undefined));
    });
  }
});

describe("refresh token attacks: each answers 401", () => {
  const refreshWith = (refreshToken: string) => call("/v1/auth/refresh", { method: "POST", json: { refreshToken } });

  const refreshAttacks: Array<{ name: string; token: () => Promise<string> }> = [
    {
      name: "a refresh token used a second time",
      token: async () => {
        const s = await makeSession();
        await refreshWith(s.refreshToken);
        return s.refreshToken;
      },
    },
    { name: "garbage", token: async () => "garbage" },
    { name: "a well-formed token nobody issued", token: async () => `${crypto.randomUUID()}.${"A".repeat(43)}` },
    {
      name: "a real family id with a made-up secret",
      token: async () => `${(await makeSession()).sid}.${"B".repeat(43)}`,
    },
    { name: "an access token presented as a refresh token", token: async () => user.token },
    {
      name: "a refresh token after logout",
      token: async () => {
        const s = await makeSession();
        await call("/v1/auth/logout", { method: "POST", headers: s.auth });
        return s.refreshToken;
      },
    },
    {
      name: "a refresh token of a disabled user",
      token: async () => {
        const s = await makeSession();
        await call(`/v1/admin/users/${s.id}`, { method: "PATCH", json: { disabled: true }, headers: admin.auth });
        return s.refreshToken;
      },
    },
    {
      name: "an expired refresh token",
      token: async () => {
        const u = await makeUser("user");
        const longAgo = new Date(Date.now() - 31 * 86_400_000);
        const s = await withDb(async (db) => {
          const [row] = await db.select().from(users).where(eq(users.id, u.id));
          return startSession({ db, env: testEnv, config: parseConfig(testEnv), ip: "t" }, db, row, longAgo);
        });
        return s.refreshToken;
      },
    },
  ];

  for (const attack of refreshAttacks) {
    it(`refuses ${attack.name}`, async () => {
      const res = await refreshWith(await attack.token());
      expect(res.status).toBe(401);
      expectError(await res.json(), "UNAUTHENTICATED");
    });
  }
});

describe("published keys", () => {
  it("serves the current and previous public keys, without private parts, when asymmetric keys are configured", async () => {
    const res = await createApp().request("/.well-known/jwks.json", {}, asymEnv);
    expect(res.status).toBe(200);
    const body: any = await res.json();
    expect(body.keys.map((k: any) => [k.kid, k.alg, k.use])).toEqual([
      [CURRENT_KID, "EdDSA", "sig"],
      [PREVIOUS_KID, "RS256", "sig"],
    ]);
    expect(JSON.stringify(body)).not.toMatch(/"(d|p|q|dp|dq|qi)":/);
  });

  it("answers 404 under HS256, which has nothing to publish", async () => {
    const res = await call("/.well-known/jwks.json");
    expect(res.status).toBe(404);
    expectError(await res.json(), "NOT_FOUND");
  });
});
