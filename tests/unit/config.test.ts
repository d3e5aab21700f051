import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, isLoopback, loadConfig } from '../../src/config.js';

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
    });
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

  it('refuses a non-loopback HOST without CACHE_TOKEN, allows loopback ones', () => {
    expect(problems({ HOST: '0.0.0.0' })[0]).toMatch(/CACHE_TOKEN/);
    expect(problems({ HOST: '10.1.2.3' })).toHaveLength(1);
    expect(problems({ HOST: '::1' })).toEqual([]);
    expect(problems({ HOST: 'localhost' })).toEqual([]);
    expect(problems({ HOST: '127.0.0.2' })).toEqual([]);
  });

  it('isLoopback', () => {
    expect(['127.0.0.1', '127.255.0.1', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '192.168.0.1', 'example.com', '128.0.0.1'].some(isLoopback)).toBe(false);
  });
});
