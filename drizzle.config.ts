import { defineConfig } from 'drizzle-kit';

// `npx drizzle-kit generate` needs no database; `npx drizzle-kit migrate` applies ./drizzle to DATABASE_URL.
const needsDatabase = process.argv.some((a) => ['migrate', 'push', 'pull', 'introspect', 'studio'].includes(a));
if (needsDatabase && !process.env.DATABASE_URL) {
  throw new Error('DATABASE_URL is not set: export the postgres:// URL of the cache database, then run this again');
}

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
  dbCredentials: { url: process.env.DATABASE_URL ?? '' },
  migrations: { table: '__drizzle_migrations', schema: 'drizzle' },
  strict: true,
  verbose: true,
});
