import { type SQL, asc, desc, sql } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import { AppError } from "./errors";
import { isUuid } from "./ids";

/**
 * Opaque keyset cursors: the sort key of the last row of a page, base64url-encoded JSON. Clients
 * must not build them; `kind` stops a venue cursor from being replayed on the event listing.
 */
export function encodeCursor(kind: string, key: readonly (string | number)[]): string {
  const bytes = new TextEncoder().encode(JSON.stringify({ k: kind, v: key }));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function decodeCursor(kind: string, cursor: string, arity: number): (string | number)[] {
  try {
    if (cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error("shape");
    const bin = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const parsed = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0))));
    const ok =
      parsed?.k === kind &&
      Array.isArray(parsed.v) &&
      parsed.v.length === arity &&
      parsed.v.every((x: unknown) => typeof x === "string" || typeof x === "number");
    if (!ok) throw new Error("content");
    return parsed.v;
  } catch {
    throw invalidCursor();
  }
}

const invalidCursor = () =>
  new AppError("VALIDATION_FAILED", "The cursor is not valid; use the nextCursor of a previous page", { issues: [{ path: "cursor", message: "invalid cursor" }] });

/** A timestamp with its microseconds (JS dates keep only milliseconds), so a cursor never falls between two rows. */
export const microIso = (col: AnyPgColumn) => sql<string>`to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * Keyset pagination over (a timestamp column, a uuid id), stable under concurrent inserts. The
 * cursor carries the exact Postgres time (select `at` with each row): a millisecond JS Date would
 * skip or repeat rows whose times differ only in microseconds, and the id breaks ties. Ordering
 * and comparing the bare columns keeps each page one range of a (time, id) index.
 */
export function keyset(kind: string, time: AnyPgColumn, id: AnyPgColumn, direction: "asc" | "desc") {
  return {
    at: microIso(time),
    order: direction === "asc" ? [asc(time), asc(id)] : [desc(time), desc(id)],
    /** The WHERE of the page after `cursor`; undefined on the first page, 400 for a cursor not issued here. */
    after(cursor: string | undefined): SQL | undefined {
      if (!cursor) return undefined;
      const [at, last] = decodeCursor(kind, cursor, 2);
      if (typeof at !== "string" || typeof last !== "string" || !isUuid(last) || Number.isNaN(Date.parse(at))) throw invalidCursor();
      return direction === "asc"
        ? sql`(${time}, ${id}) > (${at}::timestamptz, ${last}::uuid)`
        : sql`(${time}, ${id}) < (${at}::timestamptz, ${last}::uuid)`;
    },
    /** The cursor after a page fetched with `limit + 1` rows, or null when nothing follows. */
    next<T>(rows: T[], limit: number, key: (row: T) => { at: string; id: string }): string | null {
      if (rows.length <= limit) return null;
      const k = key(rows[limit - 1]);
      return encodeCursor(kind, [k.at, k.id]);
    },
  };
}
