-- Every organizer (and anyone owning a venue or an event, admins included) gets a personal
-- organization, owns it, and it holds what they owned before organizations existed.
INSERT INTO "organizations" ("name", "personal_owner_id")
SELECT u."name", u."id" FROM "users" u
WHERE u."role" = 'organizer'
   OR EXISTS (SELECT 1 FROM "venues" v WHERE v."owner_id" = u."id")
   OR EXISTS (SELECT 1 FROM "events" e WHERE e."organizer_id" = u."id")
ON CONFLICT ("personal_owner_id") DO NOTHING;--> statement-breakpoint
INSERT INTO "organization_members" ("org_id", "user_id", "role")
SELECT o."id", o."personal_owner_id", 'owner' FROM "organizations" o WHERE o."personal_owner_id" IS NOT NULL
ON CONFLICT DO NOTHING;--> statement-breakpoint
UPDATE "venues" v SET "org_id" = o."id" FROM "organizations" o WHERE o."personal_owner_id" = v."owner_id" AND v."org_id" IS NULL;--> statement-breakpoint
UPDATE "events" e SET "org_id" = o."id" FROM "organizations" o WHERE o."personal_owner_id" = e."organizer_id" AND e."org_id" IS NULL;
