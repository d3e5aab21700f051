/** The schema's history: drizzle/ matches src/db/schema.ts, drizzle-kit migrate works, the service checks it. */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StartupError, openPostgres, readJournal } from '../../src/db/connect.js';
import { tableNames } from '../../src/db/schema.js';
import { dispatch, ev, makeApp } from '../helpers/app.js';
import { createEmptyDatabase, drizzleKit, type TestDatabase } from '../helpers/db.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function tablesOf(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ t: string }>(
      `select table_name as t from information_schema.tables where table_schema = 'public' order by 1`,
    );
    return r.rows.map((x) => x.t);
  } finally {
    await client.end();
  }
}

describe('schema and drizzle/ agree', () => {
  it('drizzle-kit generate on the current schema produces no new migration', () => {
    const scratch = mkdtempSync(path.join(root, '.scratch-drift-'));
    try {
      const out = path.join(scratch, 'drizzle');
      cpSync(path.join(root, 'drizzle'), out, { recursive: true });
      const before = readdirSync(out).filter((f) => f.endsWith('.sql'));
      const config = path.join(scratch, 'drizzle.config.ts');
      // drizzle-kit wants paths relative to the working directory (the repository root).
      const rel = path.relative(root, out);
      writeFileSync(config, `export default { dialect: 'postgresql', schema: './src/db/schema.ts', out: ${JSON.stringify(rel)} };\n`);
      const output = drizzleKit(['generate', '--config', path.relative(root, config)], {}, root);
      expect(output).not.toMatch(/Error/);
      const after = readdirSync(out).filter((f) => f.endsWith('.sql'));
      expect(after, `src/db/schema.ts changed without a migration: run npx drizzle-kit generate\n${output}`).toEqual(before);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('the journal lists every SQL file in drizzle/', () => {
    const files = readdirSync(path.join(root, 'drizzle')).filter((f) => f.endsWith('.sql'));
    expect(readJournal().map((e) => `${e.tag}.sql`).sort()).toEqual(files.sort());
  });
});

describe('migrating PostgreSQL', () => {
  let empty: TestDatabase;
  beforeAll(async () => {
    empty = await createEmptyDatabase();
  });
  afterAll(async () => {
    await empty.drop();
  });

  it('refuses to open a database with pending migrations, naming the fix', async () => {
    const err = await openPostgres({ url: empty.url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toContain('npx drizzle-kit migrate');
    expect(await tablesOf(empty.url)).toEqual([]);
  });

  it('npx drizzle-kit migrate creates the cache tables (and the shard ledger and writers) and is idempotent', async () => {
    drizzleKit(['migrate'], { DATABASE_URL: empty.url });
    expect(await tablesOf(empty.url)).toEqual([...tableNames, 'guild_snapshots', 'shard_sessions', 'shard_writers'].sort());
    drizzleKit(['migrate'], { DATABASE_URL: empty.url });
    const db = await openPostgres({ url: empty.url });
    try {
      expect(await db.pendingMigrations()).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('MIGRATE_ON_START from two processes at once: the advisory lock serialises them', async () => {
    const other = await createEmptyDatabase();
    try {
      const [a, b] = await Promise.all([
        openPostgres({ url: other.url, migrate: true }),
        openPostgres({ url: other.url, migrate: true }),
      ]);
      expect(await a.pendingMigrations()).toEqual([]);
      await Promise.all([a.close(), b.close()]);
      expect(await tablesOf(other.url)).toEqual([...tableNames, 'guild_snapshots', 'shard_sessions', 'shard_writers'].sort());
    } finally {
      await other.drop();
    }
  });
});

/** The tables and rows of a database, every column as JSON (for before/after comparisons). */
async function rowsOf(url: string, tables: readonly string[]): Promise<Record<string, unknown[]>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const out: Record<string, unknown[]> = {};
    for (const t of tables) out[t] = (await client.query(`SELECT to_jsonb(x) AS r FROM "${t}" x ORDER BY 1`)).rows.map((r) => r.r);
    return out;
  } finally {
    await client.end();
  }
}

describe('upgrading a database of the previous release (migrated up to 0001_autovacuum_churning_tables)', () => {
  const PREVIOUS = '0001_autovacuum_churning_tables';
  /** The tables that release had: every table but voice_states. */
  const OLD_TABLES = tableNames.filter((t) => t !== 'voice_states');
  let db: TestDatabase;
  let scratch: string;

  beforeAll(async () => {
    db = await createEmptyDatabase();
    // drizzle/ as that release shipped it: the journal stops at PREVIOUS (the later files are not read).
    scratch = mkdtempSync(path.join(root, '.scratch-previous-'));
    const folder = path.join(scratch, 'drizzle');
    cpSync(path.join(root, 'drizzle'), folder, { recursive: true });
    const journalFile = path.join(folder, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
    const at = journal.entries.findIndex((e) => e.tag === PREVIOUS);
    expect(at, `${PREVIOUS} is in the journal`).toBeGreaterThanOrEqual(0);
    journal.entries = journal.entries.slice(0, at + 1);
    writeFileSync(journalFile, JSON.stringify(journal, null, 2));
    for (const e of readJournal().slice(at + 1)) rmSync(path.join(folder, `${e.tag}.sql`));

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await migrate(drizzle(client), { migrationsFolder: folder, migrationsSchema: 'drizzle', migrationsTable: '__drizzle_migrations' });
    } finally {
      await client.end();
    }
  });
  afterAll(async () => {
    rmSync(scratch, { recursive: true, force: true });
    await db.drop();
  });

  it('the previous release had the tables but voice_states, and the service sees 0002 and later as pending', async () => {
    expect(await tablesOf(db.url)).toEqual([...OLD_TABLES].sort());
    const err = await openPostgres({ url: db.url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toContain('0002_voice_states');
  });

  it('npx drizzle-kit migrate with the full drizzle/ keeps every row and adds a working voice_states', async () => {
    const G = '81384788765712384';
    const U = '80351110224678912';
    const C = '81384788765712385';
    const T = '81384788765712390';
    const M = '81384788765712400';
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // Rows in every table of that release, with arrays, JSON and timestamps, as its writer stored them.
      await client.query(`
        INSERT INTO users (id, username, discriminator, global_name, avatar, bot, public_flags, primary_guild)
          VALUES (${U}, 'nelly', '0', 'Nelly', 'a1', false, 0, '{"tag":"t","identity_enabled":true}');
        INSERT INTO guilds (id, name, owner_id, member_count, roles, features, joined_at)
          VALUES (${G}, 'Guild', ${U}, 2, '[{"id":"${G}","name":"@everyone","permissions":"1024","position":0}]', '["COMMUNITY"]', '2024-01-01T00:00:00.123456+00:00');
        INSERT INTO members (guild_id, user_id, nick, roles, joined_at, deaf, mute, flags)
          VALUES (${G}, ${U}, 'nick', '{${G}}', '2024-02-27T19:50:51.701+00:00', false, false, 0);
        INSERT INTO channels (id, guild_id, type, name, position, permission_overwrites)
          VALUES (${C}, ${G}, 2, 'voice', 0, '[{"id":"${G}","type":0,"allow":"0","deny":"1024"}]');
        INSERT INTO threads (id, guild_id, parent_id, type, name, thread_metadata)
          VALUES (${T}, ${G}, ${C}, 11, 'thread', '{"archived":false,"locked":false}');
        INSERT INTO messages (id, channel_id, guild_id, author_id, content, timestamp, author, embeds)
          VALUES (${M}, ${C}, ${G}, ${U}, 'hello', '2026-01-01T00:00:00+00:00', '{"id":"${U}","username":"nelly"}', '[]');
        INSERT INTO presences (guild_id, user_id, status, activities, client_status)
          VALUES (${G}, ${U}, 'online', '[]', '{"desktop":"online"}');
        INSERT INTO unavailable_guilds (id) VALUES (81384788765712399);
      `);
    } finally {
      await client.end();
    }
    const before = await rowsOf(db.url, OLD_TABLES);
    for (const t of OLD_TABLES) expect(before[t], t).toHaveLength(1);

    drizzleKit(['migrate'], { DATABASE_URL: db.url });

    expect(await tablesOf(db.url)).toEqual([...tableNames, 'guild_snapshots', 'shard_sessions', 'shard_writers'].sort());
    expect(await rowsOf(db.url, OLD_TABLES)).toEqual(before);
    const upgraded = await openPostgres({ url: db.url });
    const app = await makeApp(upgraded);
    try {
      expect(await upgraded.pendingMigrations()).toEqual([]);
      // the old rows read as before, and voice states work beside them (cascades included)
      expect((await app.inject({ method: 'GET', url: `/v1/guilds/${G}/members/${U}` })).json()).toMatchObject({ nick: 'nick', roles: [G], user: { username: 'nelly' } });
      const joined = await dispatch(app, ev('VOICE_STATE_UPDATE', { guild_id: G, user_id: U, channel_id: C, session_id: 's', self_mute: true }));
      expect(joined.status).toBe(200);
      expect((await app.inject({ method: 'GET', url: `/v1/channels/${C}/voice-states` })).json()).toEqual([
        { guild_id: G, user_id: U, channel_id: C, session_id: 's', self_mute: true, request_to_speak_timestamp: null },
      ]);
      await dispatch(app, ev('CHANNEL_DELETE', { id: C, type: 2, guild_id: G }));
      const after = await rowsOf(db.url, ['voice_states', 'threads', 'messages', 'members']);
      expect(after).toMatchObject({ voice_states: [], threads: [], messages: [], members: [expect.anything()] });
    } finally {
      await app.close();
      await upgraded.close();
    }
  });
});
