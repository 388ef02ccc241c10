import { and, eq, isNotNull } from "drizzle-orm";
import type { Database } from "../db/client";
import { events } from "../db/schema";
import { isUuid } from "../lib/ids";

/** Past this many ids the isolate's memo starts over (each is re-read from Postgres on demand). */
const KNOWN_MAX = 50_000;
/** Ids of events published at some time: publishing is never undone, so a yes is kept. */
const known = new Set<string>();
/** Questions in flight, per id: a storm of first requests for one event asks Postgres once. */
const asking = new Map<string, Promise<boolean>>();

/**
 * Whether `id` is an event that was ever published (it may since be cancelled or over). Routes
 * that reach an event's inventory object by its id in the path ask this first, so an unknown id
 * answers 404 without creating an object. A no is not memoized, so an event published a moment ago
 * is found; concurrent first questions about one id share one query.
 */
export async function wasPublished(db: Database, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const key = id.toLowerCase();
  if (known.has(key)) return true;
  let answer = asking.get(key);
  if (!answer) {
    answer = (async () => {
      try {
        const [row] = await db.select({ id: events.id }).from(events).where(and(eq(events.id, key), isNotNull(events.publishedAt))).limit(1);
        if (!row) return false;
        if (known.size >= KNOWN_MAX) known.clear();
        known.add(key);
        return true;
      } finally {
        asking.delete(key);
      }
    })();
    asking.set(key, answer);
  }
  return answer;
}
