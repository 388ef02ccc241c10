ALTER TABLE "bookings" ADD COLUMN "payment_provider" text DEFAULT 'sandbox' NOT NULL;--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "payment_intent_id" text;