/** Process entry: config → database → app → listen → graceful close on SIGINT/SIGTERM. */
import { ConfigError, checkBindAddress, loadConfig } from './config.js';
import { StartupError, openPglite, openPostgres, type Database } from './db/connect.js';
import { buildApp } from './http/app.js';

async function main() {
  const config = loadConfig();
  await checkBindAddress(config);
  const db: Database = config.databaseUrl
    ? await openPostgres({ url: config.databaseUrl, migrate: config.migrateOnStart })
    : await openPglite({ dataDir: config.dataDir });

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
  });
  app.log.info(
    {
      database: db.kind === 'pglite' ? `embedded PGlite in ${config.dataDir}` : 'PostgreSQL',
      readReplica: Boolean(config.readDatabaseUrl),
      auth: Boolean(config.cacheToken),
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

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof StartupError) {
    console.error(`discord-state-cache: ${err.message}`);
  } else {
    console.error('discord-state-cache: failed to start:', err);
  }
  process.exit(1);
});
