ALTER TABLE "organization_invitations" ADD COLUMN "email_link" text;--> statement-breakpoint
ALTER TABLE "organization_invitations" ADD COLUMN "email_link_key_id" text;--> statement-breakpoint
ALTER TABLE "organization_invitations" ADD COLUMN "email_queued_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "organization_invitations" ADD COLUMN "emailed_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "organization_invitations_email_outbox_idx" ON "organization_invitations" USING btree ("created_at") WHERE "organization_invitations"."email_link" is not null;