CREATE TABLE "analytics_rollups" (
	"name" text PRIMARY KEY NOT NULL,
	"refreshed_at" timestamp with time zone NOT NULL,
	"duration_ms" integer NOT NULL,
	"row_count" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "booking_daily_stats" (
	"day" date NOT NULL,
	"event_id" uuid NOT NULL,
	"currency" text NOT NULL,
	"bookings" integer NOT NULL,
	"confirmed" integer NOT NULL,
	"cancelled" integer NOT NULL,
	"failed" integer NOT NULL,
	"pending" integer NOT NULL,
	"seats_sold" integer NOT NULL,
	"revenue_cents" bigint NOT NULL,
	"cancellations" integer NOT NULL,
	"refunded_cents" bigint NOT NULL,
	CONSTRAINT "booking_daily_stats_day_event_id_currency_pk" PRIMARY KEY("day","event_id","currency")
);
--> statement-breakpoint
CREATE TABLE "booking_daily_totals" (
	"day" date NOT NULL,
	"currency" text NOT NULL,
	"bookings" integer NOT NULL,
	"confirmed" integer NOT NULL,
	"cancelled" integer NOT NULL,
	"failed" integer NOT NULL,
	"pending" integer NOT NULL,
	"seats_sold" integer NOT NULL,
	"revenue_cents" bigint NOT NULL,
	"cancellations" integer NOT NULL,
	"refunded_cents" bigint NOT NULL,
	CONSTRAINT "booking_daily_totals_day_currency_pk" PRIMARY KEY("day","currency")
);
--> statement-breakpoint
CREATE TABLE "event_sales_totals" (
	"event_id" uuid NOT NULL,
	"currency" text NOT NULL,
	"bookings" integer NOT NULL,
	"seats_sold" integer NOT NULL,
	"revenue_cents" bigint NOT NULL,
	CONSTRAINT "event_sales_totals_event_id_currency_pk" PRIMARY KEY("event_id","currency")
);
--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "seats" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "inventory_ready_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "booking_daily_stats" ADD CONSTRAINT "booking_daily_stats_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_sales_totals" ADD CONSTRAINT "event_sales_totals_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "booking_daily_stats_event_idx" ON "booking_daily_stats" USING btree ("event_id");--> statement-breakpoint
CREATE INDEX "event_sales_totals_seats_idx" ON "event_sales_totals" USING btree ("seats_sold");--> statement-breakpoint
CREATE INDEX "bookings_event_analytics_idx" ON "bookings" USING btree ("event_id","created_at","status","quantity","total_amount_cents","cancelled_at");--> statement-breakpoint
CREATE INDEX "events_status_category_start_idx" ON "events" USING btree ("status","category","start_time","id");--> statement-breakpoint
CREATE INDEX "events_status_city_start_idx" ON "events" USING btree ("status",lower("city"),"start_time","id");--> statement-breakpoint
CREATE INDEX "events_search_idx" ON "events" USING gin (to_tsvector('simple', "name" || ' ' || "description"));--> statement-breakpoint
CREATE INDEX "hold_history_event_kind_idx" ON "hold_history" USING btree ("event_id","kind");--> statement-breakpoint
CREATE INDEX "venues_created_idx" ON "venues" USING btree ("created_at","id");