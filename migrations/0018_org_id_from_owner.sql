-- Rows written without an organization (SQL written before organizations: benchmarks, data
-- generators, fixtures) still land where the API would put them: a venue in its owner's personal
-- organization (created on first need), an event in its venue's organization.
CREATE OR REPLACE FUNCTION evently_fill_org_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.org_id IS NULL THEN
    IF TG_TABLE_NAME = 'events' THEN
      SELECT v.org_id INTO NEW.org_id FROM venues v WHERE v.id = NEW.venue_id;
    ELSE
      INSERT INTO organizations (name, personal_owner_id) SELECT u.name, u.id FROM users u WHERE u.id = NEW.owner_id
        ON CONFLICT (personal_owner_id) DO NOTHING;
      SELECT o.id INTO NEW.org_id FROM organizations o WHERE o.personal_owner_id = NEW.owner_id;
      INSERT INTO organization_members (org_id, user_id, role) VALUES (NEW.org_id, NEW.owner_id, 'owner') ON CONFLICT DO NOTHING;
    END IF;
  END IF;
  RETURN NEW;
END $$;--> statement-breakpoint
CREATE TRIGGER venues_fill_org_id BEFORE INSERT ON venues FOR EACH ROW EXECUTE FUNCTION evently_fill_org_id();--> statement-breakpoint
CREATE TRIGGER events_fill_org_id BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION evently_fill_org_id();
