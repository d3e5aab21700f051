import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, checkBindAddress, isLoopback, loadConfig } from '../../src/config.js';

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({})).toEqual({
      host: '127.0.0.1',
      port: 8080,
      databaseUrl: undefined,
      readDatabaseUrl: undefined,
      dataDir: path.resolve('./.data'),
      cacheToken: undefined,
      bodyLimit: 32 * 1024 * 1024,
      logLevel: 'info',
      migrateOnStart: false,
      messageLimit: 200,
      queueLimit: 10_000,
      deleteOfflinePresences: false,
      vacuumInterval: 60,
      cacheTables: ['users', 'guilds', 'members', 'channels', 'threads', 'messages', 'presences', 'unavailable_guilds', 'voice_states'],
      totalShards: undefined,
      shards: undefined,
      advertiseUrl: undefined,
    });
  });

  it('TOTAL_SHARDS and SHARDS: every shard by default, ranges and lists, PostgreSQL only; ADVERTISE_URL from HOST and PORT by default', () => {
    const db = { DATABASE_URL: 'postgres://db/c' };
    expect(loadConfig({ ...db, TOTAL_SHARDS: '4', PORT: '8081' })).toMatchObject({ totalShards: 4, shards: [0, 1, 2, 3], advertiseUrl: 'http://127.0.0.1:8081' });
    expect(loadConfig({ ...db, TOTAL_SHARDS: '16', SHARDS: '12, 0-3,2', ADVERTISE_URL: 'http://cache-1:8080' })).toMatchObject({
      shards: [0, 1, 2, 3, 12],
      advertiseUrl: 'http://cache-1:8080',
    });
    expect(loadConfig({ ...db, TOTAL_SHARDS: '2', HOST: '::1' }).advertiseUrl).toBe('http://[::1]:8080');
    expect(loadConfig({ ...db, TOTAL_SHARDS: '2', HOST: '0.0.0.0', CACHE_TOKEN: 't' }).advertiseUrl).toBeUndefined();
    expect(loadConfig(db).advertiseUrl).toBeUndefined(); // no leases, nothing to advertise
    expect(problems({ ...db, SHARDS: '0-3' })).toEqual([expect.stringMatching(/^SHARDS needs TOTAL_SHARDS/)]);
    expect(problems({ ...db, TOTAL_SHARDS: '0' })).toEqual([expect.stringMatching(/^TOTAL_SHARDS must be an integer from 1/)]);
    expect(problems({ ...db, TOTAL_SHARDS: '8', SHARDS: '0-8' })).toEqual([expect.stringMatching(/^SHARDS .*shard 8 is not below TOTAL_SHARDS \(8\)/)]);
    expect(problems({ ...db, TOTAL_SHARDS: '8', SHARDS: '3-1' })).toEqual([expect.stringMatching(/^SHARDS .*the range 3-1 is empty/)]);
    expect(problems({ ...db, TOTAL_SHARDS: '8', SHARDS: 'x' })).toEqual([expect.stringMatching(/^SHARDS .*"x" is not a shard/)]);
    expect(problems({ ...db, TOTAL_SHARDS: '8', ADVERTISE_URL: 'cache:8080' })).toEqual([expect.stringMatching(/^ADVERTISE_URL must be an http/)]);
    expect(problems({ TOTAL_SHARDS: '8' })).toEqual([expect.stringMatching(/^TOTAL_SHARDS and SHARDS need DATABASE_URL: the embedded PGlite database belongs to one process/)]);
  });

  it('reads every variable', () => {
    const c = loadConfig({
      HOST: '0.0.0.0',
      PORT: '9000',
      DATABASE_URL: 'postgresql://u@db:5432/cache',
      READ_DATABASE_URL: 'postgres://u@replica:5432/cache',
      DATA_DIR: '/tmp/x',
      CACHE_TOKEN: 't',
      BODY_LIMIT: '64mb',
      LOG_LEVEL: 'warn',
      MIGRATE_ON_START: 'true',
      MESSAGE_LIMIT: '0',
      QUEUE_LIMIT: '5',
      DELETE_OFFLINE_PRESENCES: 'yes',
    });
    expect(c).toMatchObject({ host: '0.0.0.0', port: 9000, databaseUrl: 'postgresql://u@db:5432/cache', dataDir: '/tmp/x' });
    expect(c.readDatabaseUrl).toBe('postgres://u@replica:5432/cache');
    expect(c).toMatchObject({ cacheToken: 't', bodyLimit: 64 * 1024 * 1024, logLevel: 'warn', migrateOnStart: true });
    expect(c).toMatchObject({ messageLimit: 0, queueLimit: 5, deleteOfflinePresences: true });
  });

  it('names every bad value at once', () => {
    const p = problems({ PORT: '80a', DATABASE_URL: 'mysql://x', BODY_LIMIT: '12 parsecs', LOG_LEVEL: 'loud', MIGRATE_ON_START: 'maybe' });
    expect(p).toHaveLength(5);
    for (const name of ['PORT', 'DATABASE_URL', 'BODY_LIMIT', 'LOG_LEVEL', 'MIGRATE_ON_START']) {
      expect(p.some((m) => m.startsWith(name)), name).toBe(true);
    }
  });

  it('refuses READ_DATABASE_URL that is not a postgres:// URL, or without DATABASE_URL (PGlite has no replicas)', () => {
    expect(problems({ DATABASE_URL: 'postgres://db/c', READ_DATABASE_URL: 'mysql://replica/c' })).toEqual([
      expect.stringMatching(/^READ_DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/),
    ]);
    expect(problems({ READ_DATABASE_URL: 'postgres://replica/c' })).toEqual([
      'READ_DATABASE_URL needs DATABASE_URL: the embedded PGlite database has no replicas',
    ]);
    expect(problems({ DATABASE_URL: 'postgres://db/c', READ_DATABASE_URL: 'postgresql://replica/c' })).toEqual([]);
  });

  describe('CACHE_TABLES', () => {
    it('names the cached tables, comma-separated, spaces allowed; kept in the tables\' own order', () => {
      expect(loadConfig({ CACHE_TABLES: 'voice_states, users ,guilds' }).cacheTables).toEqual(['users', 'guilds', 'voice_states']);
      expect(loadConfig({ CACHE_TABLES: 'members,members' }).cacheTables).toEqual(['members']);
      expect(loadConfig({ CACHE_TABLES: '' }).cacheTables).toHaveLength(9); // empty is unset: every table
    });

    it('refuses an unknown name, naming the variable, the known tables and the unknown name', () => {
      expect(problems({ CACHE_TABLES: 'users,voicestates,Guilds' })).toEqual([
        'CACHE_TABLES must list tables among users, guilds, members, channels, threads, messages, presences, unavailable_guilds, voice_states, got "users,voicestates,Guilds" (unknown: voicestates, Guilds)',
      ]);
    });

    it('refuses a list without a name', () => {
      expect(problems({ CACHE_TABLES: ' , ,' })).toEqual([expect.stringMatching(/^CACHE_TABLES must list tables among users, .* got " , ,"$/)]);
    });

    it('is reported with the other bad values at once', () => {
      const p = problems({ CACHE_TABLES: 'nope', PORT: 'x' });
      expect(p.map((m) => m.split(' ')[0])).toEqual(['PORT', 'CACHE_TABLES']);
    });
  });

  it('refuses a non-loopback HOST without CACHE_TOKEN, allows loopback ones', () => {
    expect(problems({ HOST: '0.0.0.0' })[0]).toMatch(/CACHE_TOKEN/);
    expect(problems({ HOST: '10.1.2.3' })).toHaveLength(1);
    expect(problems({ HOST: '::1' })).toEqual([]);
    expect(problems({ HOST: 'localhost' })).toEqual([]);
    expect(problems({ HOST: '127.0.0.2' })).toEqual([]);
  });

  it('isLoopback: address literals only (a name is resolved by checkBindAddress)', () => {
    expect(['127.0.0.1', '127.255.0.1', '::1', '[::1]', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '192.168.0.1', 'example.com', '128.0.0.1', 'localhost'].some(isLoopback)).toBe(false);
  });

  describe('checkBindAddress: a host name without CACHE_TOKEN must resolve to loopback only', () => {
    const resolving = (addresses: string[]) => async () => addresses;
    it('accepts a name that resolves to loopback addresses', async () => {
      await expect(checkBindAddress({ host: 'localhost', cacheToken: undefined }, resolving(['127.0.0.1', '::1']))).resolves.toBeUndefined();
    });
    it('refuses `localhost` mapped to a public address (it is not trusted by name)', async () => {
      const err = await checkBindAddress({ host: 'localhost', cacheToken: undefined }, resolving(['127.0.0.1', '10.0.0.5'])).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems[0]).toMatch(/HOST=localhost resolves to 10\.0\.0\.5.*CACHE_TOKEN/);
    });
    it('refuses a name that does not resolve', async () => {
      const failing = async () => {
        throw new Error('ENOTFOUND');
      };
      await expect(checkBindAddress({ host: 'nowhere.invalid', cacheToken: undefined }, failing)).rejects.toBeInstanceOf(ConfigError);
    });
    it('resolves nothing with a token or an address literal', async () => {
      const never = async (): Promise<string[]> => {
        throw new Error('must not resolve');
      };
      await expect(checkBindAddress({ host: 'example.com', cacheToken: 't' }, never)).resolves.toBeUndefined();
      await expect(checkBindAddress({ host: '127.0.0.1', cacheToken: undefined }, never)).resolves.toBeUndefined();
    });
    it('the real resolver: localhost is loopback on this machine', async () => {
      await expect(checkBindAddress({ host: 'localhost', cacheToken: undefined })).resolves.toBeUndefined();
    });
  });
});
