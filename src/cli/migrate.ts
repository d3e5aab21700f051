/** `discord-state-cache migrate`: the migrations of `drizzle/` applied to PostgreSQL, under the advisory lock. */
import { migratePostgres, readJournal } from '../db/connect.js';
import { CliError, EXIT } from './exit-codes.js';

export async function migrateCommand(databaseUrl: string | undefined): Promise<void> {
  if (!databaseUrl) {
    throw new CliError(
      'migrate needs --database-url or DATABASE_URL (a postgres:// URL); the embedded database migrates itself at every start',
      EXIT.usage,
    );
  }
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new CliError('the database URL must be a postgres:// or postgresql:// URL', EXIT.usage);
  }
  const applied = await migratePostgres(databaseUrl);
  if (applied.length === 0) {
    const last = readJournal().at(-1)?.tag ?? 'none';
    console.log(`up to date (last migration: ${last})`);
    return;
  }
  for (const tag of applied) console.log(`applied ${tag}`);
  console.log(`applied ${applied.length} migration${applied.length === 1 ? '' : 's'}`);
}
