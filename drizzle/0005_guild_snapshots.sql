CREATE TABLE "guild_snapshots" (
	"guild_id" bigint NOT NULL,
	"part" text NOT NULL,
	"digest" text NOT NULL,
	CONSTRAINT "guild_snapshots_guild_id_part_pk" PRIMARY KEY("guild_id","part")
);
