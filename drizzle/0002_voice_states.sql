CREATE TABLE "voice_states" (
	"guild_id" bigint NOT NULL,
	"user_id" bigint NOT NULL,
	"channel_id" bigint,
	"session_id" text,
	"deaf" boolean,
	"mute" boolean,
	"self_deaf" boolean,
	"self_mute" boolean,
	"self_stream" boolean,
	"self_video" boolean,
	"suppress" boolean,
	"request_to_speak_timestamp" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "voice_states_guild_id_user_id_pk" PRIMARY KEY("guild_id","user_id")
);
--> statement-breakpoint
CREATE INDEX "voice_states_channel_id_idx" ON "voice_states" USING btree ("channel_id");