/** Pure rules of a relay (no `cloudflare:*` imports). */

/**
 * What a relay does with the delta of `incoming` when its sockets last saw `current` (null: it does
 * not know): pass the next version on, drop one it already passed (a late or repeated call), and
 * on a gap (or not knowing) fetch a snapshot from the inventory for every socket instead.
 */
export function decideDelivery(current: number | null, incoming: number): "send" | "skip" | "resync" {
  if (current === null) return "resync";
  if (incoming === current + 1) return "send";
  return incoming <= current ? "skip" : "resync";
}
