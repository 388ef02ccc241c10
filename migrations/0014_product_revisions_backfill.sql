-- Every event with ticket types or vouchers gets its revision row. Objects hold the revisions the
-- old scheme pushed (the newest updated_at of the event's types and vouchers, in microseconds), so
-- the counter starts one above that: every new revision is above anything an object holds, and
-- pushed_revision 0 makes the cron push each set once more (repairing pushes that failed before).
INSERT INTO "product_revisions" ("event_id", "revision", "pushed_revision", "changed_at")
SELECT e."id",
       (extract(epoch FROM greatest(
          (SELECT max(t."updated_at") FROM "ticket_types" t WHERE t."event_id" = e."id"),
          (SELECT max(v."updated_at") FROM "vouchers" v WHERE v."event_id" = e."id"))) * 1000000)::bigint + 1,
       0,
       now()
FROM "events" e
WHERE EXISTS (SELECT 1 FROM "ticket_types" t WHERE t."event_id" = e."id")
   OR EXISTS (SELECT 1 FROM "vouchers" v WHERE v."event_id" = e."id")
ON CONFLICT ("event_id") DO NOTHING;
