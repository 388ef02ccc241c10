-- Pending deliveries from before the outbox were queued when written: stamp them so the sweep
-- treats them as queued (requeued only if still untouched after 15 minutes), not as never sent.
UPDATE "webhook_deliveries" SET "queued_at" = "created_at" WHERE "status" = 'pending' AND "queued_at" IS NULL;
