ALTER TABLE "events" ADD COLUMN "inventory_ready_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "events_status_category_start_idx" ON "events" USING btree ("status","category","start_time","id");--> statement-breakpoint
CREATE INDEX "events_status_city_start_idx" ON "events" USING btree ("status",lower("city"),"start_time","id");--> statement-breakpoint
CREATE INDEX "events_search_idx" ON "events" USING gin (to_tsvector('simple', "name" || ' ' || "description"));--> statement-breakpoint
CREATE INDEX "venues_created_idx" ON "venues" USING btree ("created_at","id");