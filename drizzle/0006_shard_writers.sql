CREATE TABLE "shard_writers" (
	"instance_id" text PRIMARY KEY NOT NULL,
	"advertise_url" text,
	"total_shards" integer NOT NULL,
	"shards" integer[] NOT NULL,
	"session_pid" integer NOT NULL,
	"session_started" timestamp with time zone,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL
);
