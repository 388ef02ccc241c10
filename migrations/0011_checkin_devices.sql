ALTER TABLE "checkins" ADD COLUMN "device" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "checkins" DROP CONSTRAINT "checkins_list_id_nonce_pk";--> statement-breakpoint
ALTER TABLE "checkins" ADD CONSTRAINT "checkins_list_id_device_nonce_pk" PRIMARY KEY("list_id","device","nonce");
