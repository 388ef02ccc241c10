CREATE TABLE "product_revisions" (
	"event_id" uuid PRIMARY KEY NOT NULL,
	"revision" bigint NOT NULL,
	"pushed_revision" bigint DEFAULT 0 NOT NULL,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "product_revisions" ADD CONSTRAINT "product_revisions_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "product_revisions_owed_idx" ON "product_revisions" USING btree ("changed_at") WHERE "product_revisions"."revision" > "product_revisions"."pushed_revision";