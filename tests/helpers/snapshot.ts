/** Whole-cache snapshots (every table, every column but updated_at), for state-equality assertions. */
import type { Database } from '../../src/db/connect.js';
import { tableNames } from '../../src/db/schema.js';
import { specs } from '../../src/discord/columns.js';

export type Snapshot = Record<string, Record<string, unknown>[]>;

export async function snapshot(db: Database): Promise<Snapshot> {
  const out: Snapshot = {};
  for (const t of tableNames) {
    const spec = specs[t];
    const cols = spec.columns.filter((c) => c.name !== 'updated_at');
    const rows = await db.query(
      `SELECT ${cols.map((c) => `${c.read(`"${c.name}"`)} AS "${c.name}"`).join(', ')} FROM "${t}" ORDER BY ${spec.primaryKey.map((c) => `"${c}"`).join(', ')}`,
    );
    out[t] = rows;
  }
  return out;
}

/** Empties every table. */
export async function truncateAll(db: Database) {
  // With the digests of GUILD_CREATE parts: they describe the rows (cache/snapshots.ts).
  await db.query(`TRUNCATE ${[...tableNames, 'guild_snapshots'].map((t) => `"${t}"`).join(', ')}`);
}
