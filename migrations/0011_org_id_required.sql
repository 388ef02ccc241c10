ALTER TABLE "events" ALTER COLUMN "org_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "venues" ALTER COLUMN "org_id" SET NOT NULL;