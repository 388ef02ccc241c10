import { AppError } from "./errors";

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
    throw new AppError("VALIDATION_FAILED", "The cursor is not valid; use the nextCursor of a previous page", { issues: [{ path: "cursor", message: "invalid cursor" }] });
  }
}
