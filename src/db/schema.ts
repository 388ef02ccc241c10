import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  check,
  date,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
const createdAt = () => ts("created_at").notNull().defaultNow();

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    email: text("email").notNull(),
    name: text("name").notNull(),
    passwordHash: text("password_hash").notNull(),
    role: text("role", { enum: ["user", "organizer", "admin"] }).notNull().default("user"),
    disabledAt: ts("disabled_at"),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    // Emails are stored normalized, and the index is on lower() so case never makes a second account.
    uniqueIndex("users_email_lower_uq").on(sql`lower(${t.email})`),
    check("users_role_ck", sql`${t.role} in ('user','organizer','admin')`),
  ],
);

/** Organization roles (docs/organizations.md); what each may do is the table in src/services/permissions.ts. */
export const ORG_ROLES = ["owner", "admin", "event_manager", "box_office", "door", "viewer"] as const;
export type OrgRole = (typeof ORG_ROLES)[number];

/** A company (or one organizer's personal organization) owning venues and events. */
export const organizations = pgTable(
  "organizations",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    // Set on the personal organization every organizer gets (one each); null on a company's.
    personalOwnerId: uuid("personal_owner_id").references(() => users.id, { onDelete: "set null" }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("organizations_personal_owner_uq").on(t.personalOwnerId)],
);

/** One row per member; deleting it ends the member's access on their next request (checked per request). */
export const organizationMembers = pgTable(
  "organization_members",
  {
    orgId: uuid("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role", { enum: ORG_ROLES }).notNull(),
    // Event managers only: the events they manage; null = every event of the organization.
    eventIds: jsonb("event_ids").$type<string[] | null>(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.userId] }),
    index("organization_members_user_idx").on(t.userId),
    check("organization_members_role_ck", sql`${t.role} in ('owner','admin','event_manager','box_office','door','viewer')`),
  ],
);

/** Invitations by email: the link's token is stored hashed, and accepting is one conditional UPDATE. */
export const organizationInvitations = pgTable(
  "organization_invitations",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    email: text("email").notNull(),
    role: text("role", { enum: ORG_ROLES }).notNull(),
    eventIds: jsonb("event_ids").$type<string[] | null>(),
    tokenHash: text("token_hash").notNull(),
    invitedBy: uuid("invited_by").references(() => users.id, { onDelete: "set null" }),
    expiresAt: ts("expires_at").notNull(),
    acceptedAt: ts("accepted_at"),
    acceptedBy: uuid("accepted_by").references(() => users.id, { onDelete: "set null" }),
    revokedAt: ts("revoked_at"),
    // The email's outbox: the link, sealed (src/lib/secret-box.ts; it holds the token), kept until the
    // email is sent; `email_queued_at` null: written but not yet handed to the notifications queue.
    emailLink: text("email_link"),
    emailLinkKeyId: text("email_link_key_id"),
    emailQueuedAt: ts("email_queued_at"),
    emailedAt: ts("emailed_at"),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("organization_invitations_token_uq").on(t.tokenHash),
    index("organization_invitations_email_outbox_idx").on(t.createdAt).where(sql`${t.emailLink} is not null`),
    index("organization_invitations_org_idx").on(t.orgId, t.createdAt),
    index("organization_invitations_email_idx").on(sql`lower(${t.email})`),
  ],
);

export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    familyId: uuid("family_id").notNull(),
    tokenHash: text("token_hash").notNull(),
    expiresAt: ts("expires_at").notNull(),
    usedAt: ts("used_at"),
    revokedAt: ts("revoked_at"),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("refresh_tokens_hash_uq").on(t.tokenHash),
    index("refresh_tokens_family_idx").on(t.familyId),
    index("refresh_tokens_user_idx").on(t.userId),
  ],
);

export const venues = pgTable(
  "venues",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    ownerId: uuid("owner_id").notNull().references(() => users.id),
    orgId: uuid("org_id").notNull().references(() => organizations.id),
    name: text("name").notNull(),
    city: text("city").notNull(),
    address: text("address").notNull(),
    timezone: text("timezone").notNull(),
    // Reserved seating: {sections:[{name,rows:[{label,seats,priceCents?}]}]}; null for general admission.
    layout: jsonb("layout"),
    capacity: integer("capacity").notNull(),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    index("venues_owner_idx").on(t.ownerId),
    index("venues_org_idx").on(t.orgId),
    index("venues_created_idx").on(t.createdAt, t.id),
    check("venues_capacity_ck", sql`${t.capacity} > 0`),
  ],
);

export const events = pgTable(
  "events",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    venueId: uuid("venue_id").notNull().references(() => venues.id),
    organizerId: uuid("organizer_id").notNull().references(() => users.id),
    orgId: uuid("org_id").notNull().references(() => organizations.id),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    category: text("category").notNull(),
    city: text("city").notNull(),
    timezone: text("timezone").notNull(),
    status: text("status", { enum: ["draft", "published", "cancelled", "completed"] })
      .notNull()
      .default("draft"),
    seating: text("seating", { enum: ["reserved", "general"] }).notNull(),
    startTime: ts("start_time").notNull(),
    endTime: ts("end_time").notNull(),
    salesStartAt: ts("sales_start_at"),
    salesEndAt: ts("sales_end_at"),
    capacity: integer("capacity").notNull(),
    // Kept by the booking saga; the CHECK is a last line against overselling general admission.
    seatsSold: integer("seats_sold").notNull().default(0),
    priceCents: integer("price_cents").notNull(),
    currency: text("currency").notNull(),
    maxSeatsPerUser: integer("max_seats_per_user").notNull().default(8),
    holdTtlSeconds: integer("hold_ttl_seconds").notNull().default(600),
    paymentDeadlineSeconds: integer("payment_deadline_seconds").notNull().default(600),
    waitlistOfferSeconds: integer("waitlist_offer_seconds").notNull().default(900),
    // The venue layout as copied at publish time; later venue edits never touch it.
    layout: jsonb("layout"),
    publishedAt: ts("published_at"),
    // Set once EventInventory.initialize answered; null on a published event = publish must be retried.
    inventoryReadyAt: ts("inventory_ready_at"),
    cancelledAt: ts("cancelled_at"),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    index("events_status_start_idx").on(t.status, t.startTime, t.id),
    index("events_organizer_idx").on(t.organizerId, t.startTime),
    index("events_org_idx").on(t.orgId, t.startTime),
    index("events_venue_idx").on(t.venueId),
    index("events_category_start_idx").on(t.category, t.startTime),
    index("events_city_start_idx").on(t.city, t.startTime),
    // Listing filters: equality columns first, then the keyset (start_time, id), so a page is one index range.
    index("events_status_category_start_idx").on(t.status, t.category, t.startTime, t.id),
    index("events_status_city_start_idx").on(t.status, sql`lower(${t.city})`, t.startTime, t.id),
    // `q`: full-text search over name and description; the 'simple' config needs no extension (works on PGlite too).
    index("events_search_idx").using("gin", sql`to_tsvector('simple', ${t.name} || ' ' || ${t.description})`),
    check("events_capacity_ck", sql`${t.capacity} > 0`),
    check("events_seats_sold_ck", sql`${t.seatsSold} >= 0 and ${t.seatsSold} <= ${t.capacity}`),
    check("events_price_ck", sql`${t.priceCents} >= 0`),
    check("events_time_ck", sql`${t.endTime} > ${t.startTime}`),
    check("events_max_seats_ck", sql`${t.maxSeatsPerUser} > 0`),
  ],
);

export const seats = pgTable(
  "seats",
  {
    eventId: uuid("event_id").notNull().references(() => events.id, { onDelete: "cascade" }),
    // Stable id such as A-3-12 (section-row-number), unique within its event.
    seatId: text("seat_id").notNull(),
    section: text("section").notNull(),
    row: text("row").notNull(),
    seatNumber: integer("seat_number").notNull(),
    priceCents: integer("price_cents").notNull(),
    status: text("status", { enum: ["available", "booked"] }).notNull().default("available"),
  },
  (t) => [
    primaryKey({ columns: [t.eventId, t.seatId] }),
    uniqueIndex("seats_position_uq").on(t.eventId, t.section, t.row, t.seatNumber),
    index("seats_event_status_idx").on(t.eventId, t.status),
    index("seats_event_available_idx").on(t.eventId).where(sql`${t.status} = 'available'`),
    check("seats_price_ck", sql`${t.priceCents} >= 0`),
  ],
);

export const bookings = pgTable(
  "bookings",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id").notNull().references(() => users.id),
    eventId: uuid("event_id").notNull().references(() => events.id),
    holdId: text("hold_id").notNull(),
    status: text("status", { enum: ["pending", "confirmed", "failed", "cancelled"] })
      .notNull()
      .default("pending"),
    quantity: integer("quantity").notNull(),
    // bigint: 50 seats at the highest price (5e9) overflow int4; mode "number" is exact up to 2^53.
    totalAmountCents: bigint("total_amount_cents", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    paymentMethod: text("payment_method").notNull(),
    // Who takes this booking's money (docs/bookings.md#taking-real-payments): the provider
    // PAYMENT_PROVIDER named when it was requested, and Stripe's PaymentIntent once created.
    paymentProvider: text("payment_provider", { enum: ["sandbox", "stripe"] }).notNull().default("sandbox"),
    paymentIntentId: text("payment_intent_id"),
    paymentDeadline: ts("payment_deadline").notNull(),
    // The hold's seats as booked ([{id, priceCents}]; empty for general admission), so a pending
    // booking can show them before booking_seats rows exist.
    seats: jsonb("seats").$type<{ id: string; priceCents: number }[]>().notNull().default([]),
    // The hold's priced lines as the event's object computed them (docs/products.md): written once
    // with the booking and read whole, so a jsonb copy rather than a table; analytics unnest it.
    lines: jsonb("lines").$type<{ ticketTypeId: string; seatId?: string; quantity: number; unitCents: number; discountCents: number }[]>().notNull().default([]),
    voucherId: text("voucher_id"),
    failureReason: text("failure_reason"),
    confirmedAt: ts("confirmed_at"),
    cancelledAt: ts("cancelled_at"),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("bookings_hold_uq").on(t.holdId),
    index("bookings_user_status_idx").on(t.userId, t.status),
    index("bookings_user_created_idx").on(t.userId, t.createdAt, t.id),
    index("bookings_event_created_idx").on(t.eventId, t.createdAt),
    // Covers the per-event analytics (index-only scan): one popular event has tens of thousands of
    // bookings scattered over the heap. It makes bookings_event_created_idx redundant.
    index("bookings_event_analytics_idx").on(t.eventId, t.createdAt, t.status, t.quantity, t.totalAmountCents, t.cancelledAt),
    index("bookings_created_idx").on(t.createdAt),
    // The keyset of an event's refund job (event-refunds.ts): the next N bookings after a cursor.
    index("bookings_event_id_idx").on(t.eventId, t.id),
    check("bookings_total_ck", sql`${t.totalAmountCents} >= 0`),
    check("bookings_quantity_ck", sql`${t.quantity} > 0`),
  ],
);

export const bookingSeats = pgTable(
  "booking_seats",
  {
    bookingId: uuid("booking_id").notNull().references(() => bookings.id, { onDelete: "cascade" }),
    eventId: uuid("event_id").notNull(),
    seatId: text("seat_id").notNull(),
    priceCents: integer("price_cents").notNull(),
    // True while the booking holds the seat; the partial unique index below only sees these rows.
    active: boolean("active").notNull().default(true),
  },
  (t) => [
    primaryKey({ columns: [t.bookingId, t.seatId] }),
    // The last line of defence: one seat can never be in two active bookings.
    uniqueIndex("booking_seats_active_seat_uq").on(t.eventId, t.seatId).where(sql`${t.active}`),
    index("booking_seats_event_idx").on(t.eventId),
    check("booking_seats_price_ck", sql`${t.priceCents} >= 0`),
    foreignKey({ columns: [t.eventId, t.seatId], foreignColumns: [seats.eventId, seats.seatId] }),
  ],
);

export const payments = pgTable(
  "payments",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    bookingId: uuid("booking_id").notNull().references(() => bookings.id),
    kind: text("kind", { enum: ["charge", "refund"] }).notNull(),
    status: text("status", { enum: ["succeeded", "failed"] }).notNull(),
    amountCents: bigint("amount_cents", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    provider: text("provider").notNull(),
    providerRef: text("provider_ref"),
    idempotencyKey: text("idempotency_key").notNull(),
    error: text("error"),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("payments_idempotency_uq").on(t.idempotencyKey),
    index("payments_booking_idx").on(t.bookingId),
    check("payments_amount_ck", sql`${t.amountCents} >= 0`),
  ],
);

export const sagaSteps = pgTable(
  "saga_steps",
  {
    bookingId: uuid("booking_id").notNull().references(() => bookings.id),
    step: text("step").notNull(),
    status: text("status", { enum: ["done", "failed"] }).notNull(),
    detail: jsonb("detail"),
    attempts: integer("attempts").notNull().default(1),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.bookingId, t.step] })],
);

/**
 * One per cancelled event: refunds its confirmed bookings in batches through the queue
 * (`event.refund-batch`), keyset by booking id from `cursor`. `done` of `total` is what the
 * organizer sees on the event.
 */
export const eventRefundJobs = pgTable(
  "event_refund_jobs",
  {
    eventId: uuid("event_id").primaryKey().references(() => events.id),
    status: text("status", { enum: ["running", "done"] }).notNull().default("running"),
    cursor: uuid("cursor"),
    total: integer("total").notNull().default(0),
    done: integer("done").notNull().default(0),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
    finishedAt: ts("finished_at"),
  },
  (t) => [
    index("event_refund_jobs_running_idx").on(t.updatedAt).where(sql`${t.status} = 'running'`),
    check("event_refund_jobs_counts_ck", sql`${t.done} >= 0 and ${t.total} >= 0`),
  ],
);

export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    userId: uuid("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    responseStatus: integer("response_status"),
    responseBody: jsonb("response_body"),
    createdAt: createdAt(),
    expiresAt: ts("expires_at").notNull(),
    /**
     * The lease of the request running under the key: retries answer IDEMPOTENCY_IN_PROGRESS
     * until it ends, and a request that died mid-run stops blocking its key once it lapses.
     */
    lockedUntil: ts("locked_until"),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.key] }),
    index("idempotency_keys_expires_idx").on(t.expiresAt),
  ],
);

export const waitlistEntries = pgTable(
  "waitlist_entries",
  {
    id: text("id").primaryKey(),
    eventId: uuid("event_id").notNull().references(() => events.id),
    userId: uuid("user_id").notNull().references(() => users.id),
    quantity: integer("quantity").notNull(),
    status: text("status", { enum: ["waiting", "offered", "expired", "converted", "left", "cancelled"] }).notNull(),
    holdId: text("hold_id"),
    joinedAt: ts("joined_at").notNull(),
    offeredAt: ts("offered_at"),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    index("waitlist_event_status_idx").on(t.eventId, t.status),
    index("waitlist_user_idx").on(t.userId),
    check("waitlist_quantity_ck", sql`${t.quantity} > 0`),
  ],
);

export const holdHistory = pgTable(
  "hold_history",
  {
    // (hold, kind) is unique, so the outbox relay may deliver a row twice without duplicating it.
    holdId: text("hold_id").notNull(),
    kind: text("kind", { enum: ["created", "released", "expired", "committed"] }).notNull(),
    eventId: uuid("event_id").notNull().references(() => events.id),
    userId: uuid("user_id").notNull(),
    quantity: integer("quantity").notNull(),
    at: ts("at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.holdId, t.kind] }),
    index("hold_history_event_at_idx").on(t.eventId, t.at),
    // Hold-to-booking conversion counts holds per kind of one event from this index alone.
    index("hold_history_event_kind_idx").on(t.eventId, t.kind),
  ],
);

/**
 * Daily rollup of bookings for admin analytics, rebuilt by the cron (src/services/analytics.ts,
 * refreshDailyStats): per UTC day, event and currency. The cohort columns count bookings made that
 * day by their status now; `cancellations` and `refundedCents` count bookings cancelled that day.
 */
export const bookingDailyStats = pgTable(
  "booking_daily_stats",
  {
    day: date("day", { mode: "string" }).notNull(),
    eventId: uuid("event_id").notNull().references(() => events.id, { onDelete: "cascade" }),
    currency: text("currency").notNull(),
    bookings: integer("bookings").notNull(),
    confirmed: integer("confirmed").notNull(),
    cancelled: integer("cancelled").notNull(),
    failed: integer("failed").notNull(),
    pending: integer("pending").notNull(),
    seatsSold: integer("seats_sold").notNull(),
    revenueCents: bigint("revenue_cents", { mode: "number" }).notNull(),
    cancellations: integer("cancellations").notNull(),
    refundedCents: bigint("refunded_cents", { mode: "number" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.day, t.eventId, t.currency] }),
    index("booking_daily_stats_event_idx").on(t.eventId),
  ],
);

/** booking_daily_stats summed over events, per UTC day and currency, by the same refresh. */
export const bookingDailyTotals = pgTable(
  "booking_daily_totals",
  {
    day: date("day", { mode: "string" }).notNull(),
    currency: text("currency").notNull(),
    bookings: integer("bookings").notNull(),
    confirmed: integer("confirmed").notNull(),
    cancelled: integer("cancelled").notNull(),
    failed: integer("failed").notNull(),
    pending: integer("pending").notNull(),
    seatsSold: integer("seats_sold").notNull(),
    revenueCents: bigint("revenue_cents", { mode: "number" }).notNull(),
    cancellations: integer("cancellations").notNull(),
    refundedCents: bigint("refunded_cents", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.day, t.currency] })],
);

/** All-time totals per event and currency, summed from booking_daily_stats by the same refresh. */
export const eventSalesTotals = pgTable(
  "event_sales_totals",
  {
    eventId: uuid("event_id").notNull().references(() => events.id, { onDelete: "cascade" }),
    currency: text("currency").notNull(),
    bookings: integer("bookings").notNull(),
    seatsSold: integer("seats_sold").notNull(),
    revenueCents: bigint("revenue_cents", { mode: "number" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.eventId, t.currency] }),
    index("event_sales_totals_seats_idx").on(t.seatsSold),
  ],
);

/** When each rollup was last rebuilt, so answers can say how fresh they are. */
export const analyticsRollups = pgTable("analytics_rollups", {
  name: text("name").primaryKey(),
  refreshedAt: ts("refreshed_at").notNull(),
  durationMs: integer("duration_ms").notNull(),
  rowCount: integer("row_count").notNull(),
});

export const notifications = pgTable(
  "notifications",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    // Producer-chosen key, so a redelivered queue message stores one notification.
    dedupeKey: text("dedupe_key").notNull(),
    type: text("type").notNull(),
    payload: jsonb("payload").notNull(),
    emailedAt: ts("emailed_at"),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("notifications_dedupe_uq").on(t.dedupeKey),
    index("notifications_user_created_idx").on(t.userId, t.createdAt, t.id),
  ],
);

export const auditLog = pgTable(
  "audit_log",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    actorId: uuid("actor_id").references(() => users.id, { onDelete: "set null" }),
    action: text("action").notNull(),
    subjectId: text("subject_id"),
    ip: text("ip"),
    detail: jsonb("detail"),
    at: ts("at").notNull().defaultNow(),
  },
  (t) => [
    index("audit_log_actor_at_idx").on(t.actorId, t.at),
    index("audit_log_action_at_idx").on(t.action, t.at),
    // An organization's history (docs/organizations.md) is read by its subject.
    index("audit_log_subject_idx").on(t.subjectId, t.id),
  ],
);

/**
 * A role change or disable that the user's sessions object (UserSessions) has not acknowledged yet.
 * Written in the transaction that changes the user, deleted once the object took it: a failure
 * between the two leaves the row, and the queue or the cron delivers it later.
 */
export const userStatusOutbox = pgTable("user_status_outbox", {
  userId: uuid("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  role: text("role", { enum: ["user", "organizer", "admin"] }).notNull(),
  disabled: boolean("disabled").notNull(),
  /** When the newest undelivered change was made: how long the sessions object has been behind. */
  changedAt: ts("changed_at").notNull(),
});

// Products (docs/products.md): ticket types and vouchers per event. Postgres keeps the definitions;
// the event's object gets the whole set pushed after every change and decides quotas and usages.
export const ticketTypes = pgTable(
  "ticket_types",
  {
    eventId: uuid("event_id").notNull().references(() => events.id),
    // `tt_default` is every event's default type (kept here once the organizer edits it).
    id: text("id").notNull(),
    name: text("name").notNull(),
    // Null: the seat's own price (reserved) or the event's price (general admission); default type only.
    priceCents: bigint("price_cents", { mode: "number" }),
    quota: integer("quota"),
    quotaPool: text("quota_pool"),
    minPerOrder: integer("min_per_order").notNull().default(1),
    maxPerOrder: integer("max_per_order"),
    salesStartAt: ts("sales_start_at"),
    salesEndAt: ts("sales_end_at"),
    hidden: boolean("hidden").notNull().default(false),
    sections: jsonb("sections").$type<string[]>(),
    position: integer("position").notNull().default(0),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
    deletedAt: ts("deleted_at"),
  },
  (t) => [
    primaryKey({ columns: [t.eventId, t.id] }),
    check("ticket_types_price_ck", sql`${t.priceCents} is null or ${t.priceCents} >= 0`),
    check("ticket_types_quota_ck", sql`${t.quota} is null or ${t.quota} >= 0`),
    check("ticket_types_order_ck", sql`${t.minPerOrder} >= 1 and (${t.maxPerOrder} is null or ${t.maxPerOrder} >= ${t.minPerOrder})`),
  ],
);

export const vouchers = pgTable(
  "vouchers",
  {
    id: text("id").primaryKey(),
    eventId: uuid("event_id").notNull().references(() => events.id),
    // Stored upper case; codes match case-insensitively.
    code: text("code").notNull(),
    discountKind: text("discount_kind", { enum: ["percent", "fixed", "price"] }).notNull(),
    discountValue: bigint("discount_value", { mode: "number" }).notNull(),
    maxUsages: integer("max_usages").notNull(),
    validFrom: ts("valid_from"),
    validUntil: ts("valid_until"),
    ticketTypeIds: jsonb("ticket_type_ids").$type<string[]>(),
    unlocksHidden: boolean("unlocks_hidden").notNull().default(false),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("vouchers_event_code_uq").on(t.eventId, t.code),
    check("vouchers_discount_ck", sql`${t.discountValue} >= 0 and (${t.discountKind} <> 'percent' or ${t.discountValue} <= 100)`),
    check("vouchers_usages_ck", sql`${t.maxUsages} > 0`),
  ],
);

/**
 * Where each event's product set stands (docs/products.md): `revision` rises by one in the
 * transaction of every change to its ticket types or vouchers; `pushed_revision` is the newest
 * revision the event's object is known to hold. A row with `revision > pushed_revision` is a push
 * still owed: the request that made the change tries it at once, then a queue message, then the
 * cron, until the object holds it.
 */
export const productRevisions = pgTable(
  "product_revisions",
  {
    eventId: uuid("event_id")
      .primaryKey()
      .references(() => events.id, { onDelete: "cascade" }),
    revision: bigint("revision", { mode: "number" }).notNull(),
    pushedRevision: bigint("pushed_revision", { mode: "number" }).notNull().default(0),
    /** When the newest change was made: how long the object has been behind. */
    changedAt: ts("changed_at").notNull().defaultNow(),
  },
  (t) => [index("product_revisions_owed_idx").on(t.changedAt).where(sql`${t.revision} > ${t.pushedRevision}`)],
);

/**
 * Tickets and entry (docs/tickets.md). One Ed25519 key pair per event signs its ticket codes; the
 * public half is what scanners download to verify codes offline.
 */
export const eventSigningKeys = pgTable("event_signing_keys", {
  eventId: uuid("event_id")
    .primaryKey()
    .references(() => events.id, { onDelete: "cascade" }),
  kid: text("kid").notNull(),
  publicJwk: jsonb("public_jwk").notNull(),
  // Sealed (src/lib/secret-box.ts): a JSON string of the sealed private JWK, under `private_key_id`.
  // A row with no key id holds the JWK object in clear (written before sealing) and is sealed on use.
  privateJwk: jsonb("private_jwk").notNull(),
  privateKeyId: text("private_key_id"),
  createdAt: createdAt(),
});

/**
 * One per seat or unit of a confirmed booking. `slot` numbers the units of a booking (1..quantity);
 * a transfer marks the row `transferred` and issues a new one for the same slot, so only one live
 * ticket per (booking, slot) can ever exist.
 */
export const tickets = pgTable(
  "tickets",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    bookingId: uuid("booking_id")
      .notNull()
      .references(() => bookings.id),
    eventId: uuid("event_id")
      .notNull()
      .references(() => events.id),
    holderId: uuid("holder_id")
      .notNull()
      .references(() => users.id),
    slot: integer("slot").notNull(),
    seatId: text("seat_id"),
    // Set once ticket types exist; null is the event's default type.
    ticketTypeId: text("ticket_type_id"),
    holderName: text("holder_name").notNull(),
    status: text("status", { enum: ["valid", "cancelled", "transferred"] })
      .notNull()
      .default("valid"),
    code: text("code").notNull(),
    transferredFrom: uuid("transferred_from"),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("tickets_live_slot_uq").on(t.bookingId, t.slot).where(sql`${t.status} <> 'transferred'`),
    index("tickets_holder_created_idx").on(t.holderId, t.createdAt, t.id),
    index("tickets_event_id_idx").on(t.eventId, t.id),
    index("tickets_booking_idx").on(t.bookingId),
    check("tickets_status_ck", sql`${t.status} in ('valid','cancelled','transferred')`),
    check("tickets_slot_ck", sql`${t.slot} > 0`),
  ],
);

export const checkinLists = pgTable(
  "checkin_lists",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    eventId: uuid("event_id")
      .notNull()
      .references(() => events.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    // null: every ticket type of the event.
    ticketTypeIds: jsonb("ticket_type_ids").$type<string[] | null>(),
    allowReentry: boolean("allow_reentry").notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [index("checkin_lists_event_idx").on(t.eventId)],
);

/** Scanner devices of an event; a scanner token names one, and a revoked row stops its token at once. */
export const scanners = pgTable(
  "scanners",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    eventId: uuid("event_id")
      .notNull()
      .references(() => events.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    revokedAt: ts("revoked_at"),
    createdAt: createdAt(),
  },
  (t) => [index("scanners_event_idx").on(t.eventId)],
);

/** Postgres mirror of the accepted scans decided by the event's CheckinDesk object (unique per scan nonce). */
export const checkins = pgTable(
  "checkins",
  {
    listId: uuid("list_id")
      .notNull()
      .references(() => checkinLists.id, { onDelete: "cascade" }),
    // The scanning device (`scanner:<id>` or `user:<id>`): nonces are unique per device and list.
    // '' on rows mirrored before devices were told apart.
    device: text("device").notNull().default(""),
    nonce: text("nonce").notNull(),
    ticketId: uuid("ticket_id")
      .notNull()
      .references(() => tickets.id),
    direction: text("direction", { enum: ["entry", "exit"] }).notNull(),
    at: ts("at").notNull(),
    scannerId: uuid("scanner_id"),
  },
  (t) => [primaryKey({ columns: [t.listId, t.device, t.nonce] }), index("checkins_ticket_idx").on(t.ticketId, t.at)],
);

export const webhooks = pgTable(
  "webhooks",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    ownerId: uuid("owner_id")
      .notNull()
      .references(() => users.id),
    // The organization the hook belongs to (`owner_id` records who created it); null only for a
    // platform admin's global hook, which sees every event.
    orgId: uuid("org_id").references(() => organizations.id),
    url: text("url").notNull(),
    types: jsonb("types").$type<string[]>().notNull(),
    // null: every event of the organization (every event, for a global hook).
    eventId: uuid("event_id").references(() => events.id, { onDelete: "cascade" }),
    // Sealed with the key `secret_key_id` (src/lib/secret-box.ts); null key id: clear, from before sealing.
    secret: text("secret").notNull(),
    secretKeyId: text("secret_key_id"),
    deletedAt: ts("deleted_at"),
    createdAt: createdAt(),
  },
  (t) => [index("webhooks_owner_idx").on(t.ownerId, t.createdAt), index("webhooks_org_idx").on(t.orgId, t.createdAt)],
);

export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    webhookId: uuid("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    // What happened, once: a redelivered emit finds its delivery already there.
    dedupeKey: text("dedupe_key").notNull(),
    type: text("type").notNull(),
    payload: jsonb("payload").notNull(),
    // skipped: not sent, because the endpoint's owner lost access (disabled, or no longer the role that saw it).
    status: text("status", { enum: ["pending", "delivered", "failed", "skipped"] }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    lastStatusCode: integer("last_status_code"),
    createdAt: createdAt(),
    deliveredAt: ts("delivered_at"),
    // Last handed to the queue or attempted; null: written (the outbox) but not queued yet. The
    // cron's sweep queues pending rows left null for seconds, or untouched for long.
    queuedAt: ts("queued_at"),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_dedupe_uq").on(t.webhookId, t.dedupeKey),
    index("webhook_deliveries_hook_created_idx").on(t.webhookId, t.createdAt, t.id),
    index("webhook_deliveries_pending_idx").on(t.createdAt).where(sql`status = 'pending'`),
  ],
);

export const webhookAttempts = pgTable(
  "webhook_attempts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    deliveryId: uuid("delivery_id")
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: "cascade" }),
    at: ts("at").notNull().defaultNow(),
    statusCode: integer("status_code"),
    error: text("error"),
    durationMs: integer("duration_ms").notNull(),
  },
  (t) => [index("webhook_attempts_delivery_idx").on(t.deliveryId, t.id)],
);

/**
 * Payment provider webhook events received (src/routes/payments.ts), deduplicated by the provider's
 * event id: Stripe delivers at least once. `processed_at` is set once the saga has been told; an
 * event received but not processed (the queue send failed) is processed again on redelivery.
 */
export const paymentEvents = pgTable(
  "payment_events",
  {
    id: text("id").primaryKey(),
    provider: text("provider").notNull(),
    type: text("type").notNull(),
    intentId: text("intent_id"),
    // As the intent's metadata says, unchecked: no foreign key, so an event for a booking this
    // database does not know (another environment on the same Stripe account) is still recorded.
    bookingId: text("booking_id"),
    receivedAt: ts("received_at").notNull().defaultNow(),
    processedAt: ts("processed_at"),
  },
  (t) => [index("payment_events_intent_idx").on(t.intentId)],
);
