CREATE TABLE "event_refund_jobs" (
	"event_id" uuid PRIMARY KEY NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"cursor" uuid,
	"total" integer DEFAULT 0 NOT NULL,
	"done" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "event_refund_jobs_counts_ck" CHECK ("event_refund_jobs"."done" >= 0 and "event_refund_jobs"."total" >= 0)
);
--> statement-breakpoint
ALTER TABLE "event_refund_jobs" ADD CONSTRAINT "event_refund_jobs_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "event_refund_jobs_running_idx" ON "event_refund_jobs" USING btree ("updated_at") WHERE "event_refund_jobs"."status" = 'running';--> statement-breakpoint
CREATE INDEX "bookings_event_id_idx" ON "bookings" USING btree ("event_id","id");