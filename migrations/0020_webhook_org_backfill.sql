-- Webhooks belong to an organization (hand-written, separate so it can be renumbered). A hook for one
-- event: that event's organization. A hook for every event of an organizer (anyone but a platform
-- admin): their personal organization, made for them as 0016 did if they have none. A platform
-- admin's hook for every event stays global (org_id null).
INSERT INTO "organizations" ("name", "personal_owner_id")
SELECT u."name", u."id" FROM "users" u
WHERE u."role" <> 'admin' AND EXISTS (SELECT 1 FROM "webhooks" w WHERE w."owner_id" = u."id" AND w."event_id" IS NULL)
ON CONFLICT ("personal_owner_id") DO NOTHING;--> statement-breakpoint
INSERT INTO "organization_members" ("org_id", "user_id", "role")
SELECT o."id", o."personal_owner_id", 'owner' FROM "organizations" o
WHERE EXISTS (SELECT 1 FROM "webhooks" w JOIN "users" u ON u."id" = w."owner_id" WHERE w."owner_id" = o."personal_owner_id" AND w."event_id" IS NULL AND u."role" <> 'admin')
ON CONFLICT DO NOTHING;--> statement-breakpoint
UPDATE "webhooks" w SET "org_id" = e."org_id" FROM "events" e WHERE e."id" = w."event_id" AND w."org_id" IS NULL;--> statement-breakpoint
UPDATE "webhooks" w SET "org_id" = o."id" FROM "organizations" o, "users" u
WHERE w."event_id" IS NULL AND w."org_id" IS NULL AND u."id" = w."owner_id" AND u."role" <> 'admin' AND o."personal_owner_id" = w."owner_id";
