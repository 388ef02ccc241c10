/**
 * Pure decisions of the UserSessions object (one per user): whether an access token that passed
 * its signature check may still be used. No cloudflare:* imports, so it is unit-tested in Node.
 */
import type { AccessDecision, Role, StatusChange } from "./contract";

export interface SessionsState {
  disabled: boolean;
  /**
   * Tokens issued before this second (epoch) are refused: set when an admin changes the role or
   * disables the account. Tokens carry whole seconds, so within that very second the role decides.
   */
  validFrom: number;
  /** The role as of `validFrom`; null while no admin ever changed this account. */
  roleAtValidFrom: Role | null;
  /** Revoked sessions (refresh-token families) and until when their access tokens could still live. */
  revoked: Map<string, number>;
}

export const emptyState = (): SessionsState => ({ disabled: false, validFrom: 0, roleAtValidFrom: null, revoked: new Map() });

export interface TokenFacts {
  sid: string;
  role: Role;
  /** Issued-at, epoch seconds. */
  iat: number;
}

export function decideAccess(state: SessionsState, token: TokenFacts): AccessDecision {
  if (state.disabled) return { ok: false, code: "USER_DISABLED", message: "This account is disabled" };
  if (state.revoked.has(token.sid)) return { ok: false, code: "SESSION_REVOKED", message: "The access token has been revoked" };
  // A token minted before a role change carries the old role: the client refreshes to get the new one.
  const stale = token.iat < state.validFrom || (token.iat === state.validFrom && state.roleAtValidFrom !== null && token.role !== state.roleAtValidFrom);
  if (stale) return { ok: false, code: "ROLE_CHANGED", message: "This account changed since the token was issued; refresh the token" };
  return { ok: true };
}

/** Sessions whose every access token has expired need no entry any more. */
export function expiredRevocations(state: SessionsState, nowSeconds: number): string[] {
  return [...state.revoked].filter(([, until]) => until <= nowSeconds).map(([sid]) => sid);
}

/**
 * Applies an admin's change. Every token issued before it is retired (the client refreshes and
 * gets the new role), so no bookkeeping of old roles survives an out-of-band change later.
 */
export function applyStatus(state: SessionsState, change: StatusChange, nowSeconds: number): SessionsState {
  // Within the second of a role change the token's role tells old from new; within the second of
  // a disable nothing does, so that whole second is retired (no login can happen while disabled).
  const from = change.disabled && !state.disabled ? nowSeconds + 1 : nowSeconds;
  return { ...state, disabled: change.disabled, validFrom: Math.max(state.validFrom, from), roleAtValidFrom: change.role };
}
