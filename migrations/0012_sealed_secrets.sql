ALTER TABLE "event_signing_keys" ADD COLUMN "private_key_id" text;--> statement-breakpoint
ALTER TABLE "webhooks" ADD COLUMN "secret_key_id" text;