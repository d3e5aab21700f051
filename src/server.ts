/** The service as a process: config → database → app → listen → graceful close on SIGINT/SIGTERM. */
import { ConfigError, checkBindAddress, type Config } from './config.js';
import { StartupError, openPglite, openPostgres, type Database } from './db/connect.js';
import { buildApp } from './http/app.js';

/** Opens the database `config` names (PostgreSQL, or the embedded PGlite in `dataDir`). */
export function openDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'migrateOnStart'>): Promise<Database> {
  return config.databaseUrl
    ? openPostgres({ url: config.databaseUrl, migrate: config.migrateOnStart })
    : openPglite({ dataDir: config.dataDir });
}

/**
 * Starts the service and keeps it running until SIGINT/SIGTERM, then exits the process (0 once everything
 * accepted is committed). Rejects with `StartupError` when the database cannot be used.
 */
export async function serve(config: Config): Promise<void> {
  await checkBindAddress(config);
  const db = await openDatabase(config);

  const app = await buildApp({
    db,
    readDatabaseUrl: config.readDatabaseUrl,
    cacheToken: config.cacheToken,
    bodyLimit: config.bodyLimit,
    logLevel: config.logLevel,
    messageLimit: config.messageLimit,
    queueLimit: config.queueLimit,
    deleteOfflinePresences: config.deleteOfflinePresences,
    vacuumIntervalMs: config.vacuumInterval * 1000,
    cachedTables: config.cacheTables,
    ...(config.totalShards !== undefined && config.shards && config.databaseUrl
      ? { shardLeases: { url: config.databaseUrl, totalShards: config.totalShards, shards: config.shards, advertiseUrl: config.advertiseUrl } }
      : {}),
  });
  app.log.info(
    {
      database: db.kind === 'pglite' ? `embedded PGlite in ${config.dataDir}` : 'PostgreSQL',
      readReplica: Boolean(config.readDatabaseUrl),
      auth: Boolean(config.cacheToken),
      ...(app.cache.leases ? { totalShards: config.totalShards, shards: app.cache.leases.state(), advertiseUrl: config.advertiseUrl ?? null } : {}),
    },
    'discord-state-cache starting',
  );

  let closing: Promise<void> | undefined;
  const shutdown = (signal: string) => {
    closing ??= (async () => {
      app.log.info({ signal }, 'stopping: finishing accepted writes');
      const timer = setTimeout(() => {
        app.log.error('shutdown took longer than 30 s; exiting');
        process.exit(1);
      }, 30_000);
      timer.unref();
      try {
        await app.close(); // stops accepting, waits for in-flight requests, drains the writer
        await db.close();
        process.exit(0);
      } catch (err) {
        app.log.error({ err }, 'error while stopping');
        process.exit(1);
      }
    })();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    app.log.error({ err }, 'cannot listen');
    await db.close();
    process.exit(1);
  }
}

/** Reports why the service could not start (a configuration or database the operator must fix) and exits 1. */
export function exitOnStartupError(err: unknown): never {
  if (err instanceof ConfigError || err instanceof StartupError) {
    console.error(`discord-state-cache: ${err.message}`);
  } else {
    console.error('discord-state-cache: failed to start:', err);
  }
  process.exit(1);
}
