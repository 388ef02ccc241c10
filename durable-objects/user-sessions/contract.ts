/** The contract of the UserSessions object (one per user): what its checks answer. Imports nothing local. */

export type Role = "user" | "organizer" | "admin";

export type AccessDecision =
  | { ok: true }
  | { ok: false; code: "USER_DISABLED" | "SESSION_REVOKED" | "ROLE_CHANGED"; message: string };

export interface StatusChange {
  disabled: boolean;
  /** The role after the change (the current role when only `disabled` changed). */
  role: Role;
}
