CREATE TABLE "user_status_outbox" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"role" text NOT NULL,
	"disabled" boolean NOT NULL,
	"changed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD COLUMN "locked_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "user_status_outbox" ADD CONSTRAINT "user_status_outbox_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;