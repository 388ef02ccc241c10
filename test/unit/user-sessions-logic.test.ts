import { describe, expect, it } from "vitest";
import { applyStatus, decideAccess, emptyState, expiredRevocations } from "../../durable-objects/user-sessions/logic";

const token = (over: Partial<{ sid: string; role: "user" | "organizer" | "admin"; iat: number }> = {}) => ({ sid: "s1", role: "user" as const, iat: 1_000, ...over });

describe("the sessions object's access decision", () => {
  it("lets a token through when nothing was revoked", () => {
    expect(decideAccess(emptyState(), token())).toEqual({ ok: true });
  });

  it("refuses every token of a revoked session and no other session", () => {
    const state = emptyState();
    state.revoked.set("s1", 2_000);
    expect(decideAccess(state, token({ sid: "s1" }))).toMatchObject({ ok: false, code: "SESSION_REVOKED" });
    expect(decideAccess(state, token({ sid: "s2" }))).toEqual({ ok: true });
  });

  it("refuses everything while the account is disabled, new tokens included", () => {
    const state = applyStatus(emptyState(), { disabled: true, role: "user" }, 1_000);
    expect(decideAccess(state, token({ iat: 5_000 }))).toMatchObject({ ok: false, code: "USER_DISABLED" });
  });

  it("keeps tokens from before a disable dead after the account is enabled again", () => {
    const disabled = applyStatus(emptyState(), { disabled: true, role: "user" }, 1_000);
    const enabled = applyStatus(disabled, { disabled: false, role: "user" }, 1_100);
    expect(decideAccess(enabled, token({ iat: 999 }))).toMatchObject({ ok: false });
    expect(decideAccess(enabled, token({ iat: 1_050 }))).toMatchObject({ ok: false });
    expect(decideAccess(enabled, token({ iat: 1_101 }))).toEqual({ ok: true });
  });

  it("keeps a token minted in the very second of a disable dead after enabling again", () => {
    const disabled = applyStatus(emptyState(), { disabled: true, role: "user" }, 1_000);
    const enabled = applyStatus(disabled, { disabled: false, role: "user" }, 1_000);
    expect(decideAccess(enabled, token({ iat: 1_000 }))).toMatchObject({ ok: false });
    expect(decideAccess(enabled, token({ iat: 1_001 }))).toEqual({ ok: true });
  });

  it("refuses a token minted before a role change and accepts one with the new role in the same second", () => {
    const state = applyStatus(emptyState(), { disabled: false, role: "user" }, 1_000);
    expect(decideAccess(state, token({ role: "admin", iat: 999 }))).toMatchObject({ ok: false, code: "ROLE_CHANGED" });
    expect(decideAccess(state, token({ role: "admin", iat: 1_000 }))).toMatchObject({ ok: false, code: "ROLE_CHANGED" });
    expect(decideAccess(state, token({ role: "user", iat: 1_000 }))).toEqual({ ok: true });
  });

  it("accepts a later token whose role was changed outside the API (admin:create)", () => {
    const state = applyStatus(emptyState(), { disabled: false, role: "user" }, 1_000);
    expect(decideAccess(state, token({ role: "admin", iat: 1_001 }))).toEqual({ ok: true });
  });

  it("never moves the cutoff backwards", () => {
    const later = applyStatus(emptyState(), { disabled: false, role: "organizer" }, 2_000);
    expect(applyStatus(later, { disabled: false, role: "organizer" }, 1_500).validFrom).toBe(2_000);
  });

  it("forgets a revoked session once every one of its access tokens has expired", () => {
    const state = emptyState();
    state.revoked.set("old", 1_000);
    state.revoked.set("fresh", 3_000);
    expect(expiredRevocations(state, 2_000)).toEqual(["old"]);
  });
});
