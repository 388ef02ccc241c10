import { z } from "zod";

export const NotificationMessage = z.object({
  type: z.literal("notification.send"),
  dedupeKey: z.string().min(1).max(200),
  userId: z.string().uuid(),
  kind: z.enum(["booking.confirmed", "booking.failed", "booking.cancelled", "booking.refunded", "waitlist.offered"]),
  payload: z.record(z.string(), z.unknown()),
});
export type NotificationMessage = z.infer<typeof NotificationMessage>;

export const QueueMessage = z.discriminatedUnion("type", [NotificationMessage]);
export type QueueMessage = z.infer<typeof QueueMessage>;
