-- Custom migration (drizzle-kit generate --custom): storage parameters, which the Drizzle schema cannot express.
-- messages churn (retention deletes the oldest of every channel) and presences are rewritten all the time:
-- PostgreSQL's defaults vacuum a table once a fifth of it is dead, far too late for these two. Without
-- vacuum, the soak of issue 8 fell from 10k to 2.7k events/s (11k live rows, 250k dead).
-- These only act when the server runs autovacuum; otherwise the service vacuums them itself (README, Operations).
ALTER TABLE "messages" SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 0);--> statement-breakpoint
-- Presence updates can stay on their page (HOT) when the page has room.
ALTER TABLE "presences" SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 0);
