import { sql, type AnyColumn, type SQL } from "drizzle-orm";
import { AppError } from "./errors";

/** An opaque keyset cursor over (createdAt, id), newest first: stable under concurrent inserts. */
export interface Keyset {
  createdAt: Date;
  id: string;
}

export function encodeKeyset(k: Keyset): string {
  return btoa(`${k.createdAt.toISOString()}|${k.id}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeKeyset(cursor: string | undefined): Keyset | null {
  if (!cursor) return null;
  try {
    const [iso, id] = atob(cursor.replace(/-/g, "+").replace(/_/g, "/")).split("|");
    const createdAt = new Date(iso);
    if (!id || Number.isNaN(createdAt.getTime())) throw new Error("bad cursor");
    return { createdAt, id };
  } catch {
    throw new AppError("VALIDATION_FAILED", "The cursor is not valid", { issues: [{ path: "cursor", message: "not a cursor from this API" }] });
  }
}

/**
 * Postgres keeps microseconds, a cursor keeps JavaScript's milliseconds: comparing and ordering on
 * the millisecond-truncated time keeps rows that share a millisecond from being skipped.
 */
export function keysetOrder(createdAt: AnyColumn, id: AnyColumn): SQL[] {
  return [sql`date_trunc('milliseconds', ${createdAt}) desc`, sql`${id} desc`];
}

export function keysetBefore(createdAt: AnyColumn, id: AnyColumn, after: Keyset | null): SQL | undefined {
  if (!after) return undefined;
  return sql`(date_trunc('milliseconds', ${createdAt}), ${id}) < (${after.createdAt.toISOString()}::timestamptz, ${after.id})`;
}
