CREATE TABLE "shard_sessions" (
	"shard_id" integer PRIMARY KEY NOT NULL,
	"session_id" text,
	"last_sequence" bigint NOT NULL,
	"last_event_at" timestamp with time zone DEFAULT now() NOT NULL,
	"events_applied" bigint DEFAULT 0 NOT NULL
);
