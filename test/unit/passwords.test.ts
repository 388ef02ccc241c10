import { describe, expect, it } from "vitest";
import { CURRENT_PARAMS, hashPassword, parsePhc, passwordProblem, verifyPassword } from "../../src/auth/passwords";

// Cheap parameters where the cost itself is not under test; CURRENT_PARAMS are exercised once.
const CHEAP = { m: 64, t: 1, p: 1 };

describe("Argon2id password hashing", () => {
  it("stores a PHC string with the OWASP parameters and verifies the same password", () => {
    const stored = hashPassword("correct horse battery staple");
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(verifyPassword("correct horse battery staple", stored)).toEqual({ ok: true, needsRehash: false });
    expect(verifyPassword("correct horse battery stapler", stored).ok).toBe(false);
  });

  it("matches the reference implementation's argon2id test vector", () => {
    // From the Argon2 reference (phc-winner-argon2 src/test.c): password, somesalt, t=2, m=2^16, p=1.
    const reference = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    expect(verifyPassword("password", reference).ok).toBe(true);
    expect(verifyPassword("passwore", reference).ok).toBe(false);
  }, 30_000); // two 64 MiB hashes in pure JS: seconds on a loaded 2-core machine

  it("salts every hash, so the same password never stores the same string twice", () => {
    expect(hashPassword("same password here", CHEAP)).not.toBe(hashPassword("same password here", CHEAP));
  });

  it("asks for a rehash when a correct password was stored with other parameters", () => {
    const old = hashPassword("an older account pw", CHEAP);
    expect(verifyPassword("an older account pw", old)).toEqual({ ok: true, needsRehash: true });
    expect(verifyPassword("an older account pw", old, CHEAP)).toEqual({ ok: true, needsRehash: false });
    expect(verifyPassword("not the password!!", old)).toEqual({ ok: false, needsRehash: false });
  });

  it("never matches a malformed or foreign stored hash", () => {
    for (const stored of ["", "plaintext", "$2b$10$abcdefghijklmnopqrstuu", "$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"]) {
      expect(verifyPassword("whatever password", stored).ok).toBe(false);
    }
  });

  it("refuses stored parameters far above what we write, so a bad row cannot pin the CPU", () => {
    expect(parsePhc("$argon2id$v=19$m=4000000,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")).toBeNull();
    expect(parsePhc("$argon2id$v=19$m=19456,t=99,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")).toBeNull();
    expect(parsePhc(hashPassword("x".repeat(12), CHEAP))?.params).toEqual(CHEAP);
  });

  it("treats the same password in two Unicode compositions as one", () => {
    const composed = "caf\u00e9 au lait 123";
    const decomposed = "cafe\u0301 au lait 123";
    expect(verifyPassword(decomposed, hashPassword(composed, CHEAP), CHEAP).ok).toBe(true);
  });

  it("uses the OWASP parameters by default", () => {
    expect(CURRENT_PARAMS).toEqual({ m: 19_456, t: 2, p: 1 });
  });
});

describe("the password rule", () => {
  it("accepts 12 to 128 characters", () => {
    expect(passwordProblem("a".repeat(12))).toBeNull();
    expect(passwordProblem("a".repeat(128))).toBeNull();
  });

  it("refuses 11 and 129 characters, counting code points rather than UTF-16 units", () => {
    expect(passwordProblem("a".repeat(11))).toMatch(/at least 12/);
    expect(passwordProblem("a".repeat(129))).toMatch(/at most 128/);
    expect(passwordProblem("\u{1F600}".repeat(12))).toBeNull();
  });

  it("refuses a password of only whitespace", () => {
    expect(passwordProblem(" ".repeat(16))).toMatch(/whitespace/);
    expect(passwordProblem("\t\n".repeat(8))).toMatch(/whitespace/);
  });
});
