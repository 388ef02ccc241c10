import { z } from "zod";

export const NotificationKind = z.enum(["booking.confirmed", "booking.failed", "booking.cancelled", "booking.refunded", "waitlist.offered", "waitlist.event-cancelled", "hold.event-cancelled"]);
export type NotificationKind = z.infer<typeof NotificationKind>;

export const NotificationMessage = z.object({
  type: z.literal("notification.send"),
  dedupeKey: z.string().min(1).max(200),
  userId: z.string().uuid(),
  kind: NotificationKind,
  payload: z.record(z.string(), z.unknown()),
});
export type NotificationMessage = z.infer<typeof NotificationMessage>;

/**
 * Saga messages only name the booking: the saga reads where the booking stands from Postgres and
 * its step log, so a duplicate, late or out-of-order message finds nothing left to do.
 */
export const BookingRequested = z.object({ type: z.literal("booking.requested"), bookingId: z.string().uuid() });
export type BookingRequested = z.infer<typeof BookingRequested>;

/** Sent after the booking was marked cancelled in Postgres: return the seats, refund, notify. */
export const BookingCancelRequested = z.object({ type: z.literal("booking.cancel-requested"), bookingId: z.string().uuid() });
export type BookingCancelRequested = z.infer<typeof BookingCancelRequested>;

/** A role change or disable still waiting in `user_status_outbox` for the user's sessions object. */
export const UserStatusSync = z.object({ type: z.literal("user.status-sync"), userId: z.string().uuid() });
export type UserStatusSync = z.infer<typeof UserStatusSync>;

/** An event's product set its object has not taken yet (`product_revisions`, src/services/products.ts). */
export const ProductsSync = z.object({ type: z.literal("products.sync"), eventId: z.string().uuid() });
export type ProductsSync = z.infer<typeof ProductsSync>;

/** The next batch of a cancelled event's refund job (event-cancellation.ts); the job row says where it stands. */
export const EventRefundBatch = z.object({ type: z.literal("event.refund-batch"), eventId: z.string().uuid() });
export type EventRefundBatch = z.infer<typeof EventRefundBatch>;

/** From an inventory object's outbox (durable-objects/inventory/engine/outbox.ts): hold history and waitlist mirrors for Postgres. */
export const InventoryOutbox = z.object({
  type: z.literal("inventory.outbox"),
  eventId: z.string().uuid(),
  history: z.array(
    z.object({
      holdId: z.string().min(1),
      kind: z.enum(["created", "released", "expired", "committed"]),
      userId: z.string().uuid(),
      quantity: z.number().int().positive(),
      at: z.number().int(),
    }),
  ),
  waitlist: z.array(
    z.object({
      id: z.string().min(1),
      eventId: z.string().uuid(),
      userId: z.string().uuid(),
      quantity: z.number().int().positive(),
      status: z.enum(["waiting", "offered", "expired", "converted", "left", "cancelled"]),
      holdId: z.string().nullable(),
      joinedAt: z.number().int(),
      offeredAt: z.number().int().nullable(),
      updatedAt: z.number().int(),
    }),
  ),
});
export type InventoryOutbox = z.infer<typeof InventoryOutbox>;

/** One attempt of one webhook delivery (src/services/webhooks.ts); the delivery row says what to send. */
export const WebhookDeliver = z.object({ type: z.literal("webhook.deliver"), deliveryId: z.string().uuid() });
export type WebhookDeliver = z.infer<typeof WebhookDeliver>;

/** An organization's invitation email (docs/organizations.md): the invitee may have no account yet, so it names an address. */
export const OrgInvitationMessage = z.object({
  type: z.literal("org.invitation"),
  invitationId: z.string().uuid(),
  email: z.string().email(),
  orgName: z.string(),
  role: z.string(),
  link: z.string(),
  expiresAt: z.string(),
});
export type OrgInvitationMessage = z.infer<typeof OrgInvitationMessage>;

export const QueueMessage = z.discriminatedUnion("type", [NotificationMessage, OrgInvitationMessage, BookingRequested, BookingCancelRequested, UserStatusSync, ProductsSync, EventRefundBatch, InventoryOutbox, WebhookDeliver]);
export type QueueMessage = z.infer<typeof QueueMessage>;
export type SagaMessage = BookingRequested | BookingCancelRequested;
