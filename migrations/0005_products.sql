CREATE TABLE "ticket_types" (
	"event_id" uuid NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"price_cents" bigint,
	"quota" integer,
	"quota_pool" text,
	"min_per_order" integer DEFAULT 1 NOT NULL,
	"max_per_order" integer,
	"sales_start_at" timestamp with time zone,
	"sales_end_at" timestamp with time zone,
	"hidden" boolean DEFAULT false NOT NULL,
	"sections" jsonb,
	"position" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "ticket_types_event_id_id_pk" PRIMARY KEY("event_id","id"),
	CONSTRAINT "ticket_types_price_ck" CHECK ("ticket_types"."price_cents" is null or "ticket_types"."price_cents" >= 0),
	CONSTRAINT "ticket_types_quota_ck" CHECK ("ticket_types"."quota" is null or "ticket_types"."quota" >= 0),
	CONSTRAINT "ticket_types_order_ck" CHECK ("ticket_types"."min_per_order" >= 1 and ("ticket_types"."max_per_order" is null or "ticket_types"."max_per_order" >= "ticket_types"."min_per_order"))
);
--> statement-breakpoint
CREATE TABLE "vouchers" (
	"id" text PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"code" text NOT NULL,
	"discount_kind" text NOT NULL,
	"discount_value" bigint NOT NULL,
	"max_usages" integer NOT NULL,
	"valid_from" timestamp with time zone,
	"valid_until" timestamp with time zone,
	"ticket_type_ids" jsonb,
	"unlocks_hidden" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "vouchers_discount_ck" CHECK ("vouchers"."discount_value" >= 0 and ("vouchers"."discount_kind" <> 'percent' or "vouchers"."discount_value" <= 100)),
	CONSTRAINT "vouchers_usages_ck" CHECK ("vouchers"."max_usages" > 0)
);
--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "lines" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "voucher_id" text;--> statement-breakpoint
ALTER TABLE "ticket_types" ADD CONSTRAINT "ticket_types_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vouchers" ADD CONSTRAINT "vouchers_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "vouchers_event_code_uq" ON "vouchers" USING btree ("event_id","code");