#!/usr/bin/env node
/**
 * The `discord-state-cache` command (package.json `bin`): serve, migrate, replay, stats. Argument parsing by
 * commander; each command lives in its own module, loaded when it runs (`--help` and `stats` need neither
 * Fastify nor the database drivers), and returns or throws; this file turns that into the exit code.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CacheError } from '../client/index.js';
import { CliError, EXIT } from './exit-codes.js';

const DEFAULT_URL = 'http://127.0.0.1:8080';
/** `--url`, else CACHE_URL, else the service's default address. */
const serviceUrl = (url: string | undefined) => url ?? (process.env.CACHE_URL || DEFAULT_URL);
const serviceToken = (token: string | undefined) => token ?? (process.env.CACHE_TOKEN || undefined);

/** package.json sits two levels up from both src/cli and dist/cli. */
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const EXIT_CODES_HELP = `
Exit codes:
  ${EXIT.ok}    done
  ${EXIT.failure}    failed (service or database unreachable, token refused, unreadable file, pending migrations, …)
  ${EXIT.usage}    wrong command line
  ${EXIT.stoppedAtInvalidLine}    replay: stopped at an invalid line (not JSON, or rejected by the service)
  ${EXIT.skippedInvalidLines}    replay --skip-invalid: done, and invalid lines were skipped
  ${EXIT.interrupted}  replay: interrupted (Ctrl-C)`;

/** One line for the operator: the message of the error (of each error, for an AggregateError). */
function describe(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return err.message || err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ');
  }
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * Failures of the environment, told in one line: ours (by name, so that this module need not load the
 * database modules to recognise them) and system or PostgreSQL errors (they carry a `code`). Anything else is
 * a bug, and gets its stack.
 */
function isExpected(err: unknown): boolean {
  if (err instanceof CliError || err instanceof CacheError) return true;
  return err instanceof Error && (['ConfigError', 'StartupError'].includes(err.name) || 'code' in err);
}

/** Runs a command's action: its result (or `CliError`'s code) becomes the exit code; failures are one line. */
function action<A extends unknown[]>(name: string, fn: (...args: A) => Promise<number | void>) {
  return async (...args: A) => {
    try {
      process.exitCode = (await fn(...args)) ?? EXIT.ok;
    } catch (err) {
      console.error(`discord-state-cache ${name}: ${describe(err)}`);
      if (!isExpected(err) && err instanceof Error && err.stack) console.error(err.stack);
      process.exitCode = err instanceof CliError ? err.exitCode : EXIT.failure;
    }
  };
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number greater than 0');
  return n;
}

const program = new Command('discord-state-cache')
  .description('Persistent cache of Discord gateway state for Discordeno bots: the service, and tools for it.')
  .version(VERSION)
  // Before the commands: they inherit it. Help and --version exit 0, every parsing error 2.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage))
  .showHelpAfterError('(add --help for usage)')
  .addHelpText('after', EXIT_CODES_HELP);

program
  .command('serve')
  .summary('run the service (what `npm start` does)')
  .description(
    'Run the service (what `npm start` does). Configured by the environment (HOST, PORT, DATABASE_URL, DATA_DIR, ' +
      'CACHE_TOKEN, … see the README); these options override it. Without DATABASE_URL: the embedded database in DATA_DIR.',
  )
  .option('--host <address>', 'address to listen on (HOST, default 127.0.0.1)')
  .option('--port <port>', 'port to listen on (PORT, default 8080)')
  .option('--database-url <url>', 'PostgreSQL to use (DATABASE_URL)')
  .option('--data-dir <dir>', 'directory of the embedded database (DATA_DIR, default ./.data)')
  .action(async (options: { host?: string; port?: string; databaseUrl?: string; dataDir?: string }) => {
    const env = { ...process.env };
    if (options.host !== undefined) env.HOST = options.host;
    if (options.port !== undefined) env.PORT = options.port;
    if (options.databaseUrl !== undefined) env.DATABASE_URL = options.databaseUrl;
    if (options.dataDir !== undefined) env.DATA_DIR = options.dataDir;
    const [{ loadConfig }, { exitOnStartupError, serve }] = await Promise.all([import('../config.js'), import('../server.js')]);
    try {
      await serve(loadConfig(env)); // runs until SIGINT/SIGTERM, which exit the process
    } catch (err) {
      exitOnStartupError(err);
    }
  });

program
  .command('migrate')
  .summary('apply pending migrations to PostgreSQL')
  .description(
    'Apply the pending migrations to PostgreSQL (the same as `npx drizzle-kit migrate`), under the advisory lock the ' +
      'service takes with MIGRATE_ON_START. Prints the migrations applied, or "up to date".',
  )
  .addOption(new Option('--database-url <url>', 'the database').env('DATABASE_URL'))
  .action(
    action('migrate', async (options: { databaseUrl?: string }) => {
      const { migrateCommand } = await import('./migrate.js');
      await migrateCommand(options.databaseUrl);
    }),
  );

program
  .command('replay')
  .summary('send recorded gateway traffic (NDJSON, gzip or not) to the cache')
  .description(
    'Send recorded gateway traffic to the cache, in file order: NDJSON, one gateway payload or { payload, shardId } ' +
      'forward per line (what the client\'s `record` option writes, or a gateway proxy\'s log), gzip or not. To a ' +
      'running service (--url), or straight into a database (--database-url, --data-dir). Shows a progress bar on a ' +
      'terminal, plain lines otherwise (standard error).',
  )
  .argument('<file>', 'the NDJSON file, or - for standard input')
  .addOption(
    new Option('--url <url>', `the running service (default: $CACHE_URL, else ${DEFAULT_URL})`).conflicts(['databaseUrl', 'dataDir']),
  )
  .addOption(new Option('--token <token>', "the service's CACHE_TOKEN (default: $CACHE_TOKEN)").conflicts(['databaseUrl', 'dataDir']))
  .addOption(new Option('--database-url <url>', 'replay into this PostgreSQL database instead (no service needed)').conflicts('dataDir'))
  .option('--data-dir <dir>', 'replay into the embedded database in this directory instead (no service needed)')
  .option('--migrate', 'with --database-url: apply pending migrations first')
  .option('--skip-invalid', 'skip invalid lines (not JSON, or rejected by the service) instead of stopping at the first')
  .option('--no-progress', 'no progress bar or progress lines')
  .option('--progress-interval <seconds>', 'seconds between progress lines when standard error is not a terminal', positiveNumber, 5)
  .addHelpText(
    'after',
    `
Invalid lines: without --skip-invalid the replay stops at the first one (exit ${EXIT.stoppedAtInvalidLine}), naming its line; events
already sent after it (at most 10,000) are still applied. With --skip-invalid each one is reported and skipped
(exit ${EXIT.skippedInvalidLines} if there were any). Ctrl-C stops reading and delivers what was sent (exit ${EXIT.interrupted}).
With --database-url / --data-dir the service's settings (MESSAGE_LIMIT, DELETE_OFFLINE_PRESENCES, QUEUE_LIMIT) come
from the environment, as for \`serve\`.`,
  )
  .action(
    action(
      'replay',
      (
        file: string,
        options: {
          url?: string;
          token?: string;
          databaseUrl?: string;
          dataDir?: string;
          migrate?: boolean;
          skipInvalid?: boolean;
          progress: boolean;
          progressInterval: number;
        },
      ) =>
        import('./replay.js').then(({ replayCommand }) =>
          replayCommand(file, {
            ...options,
            url: serviceUrl(options.url),
            token: serviceToken(options.token),
            migrate: options.migrate ?? false,
            skipInvalid: options.skipInvalid ?? false,
          }),
        ),
    ),
  );

program
  .command('stats')
  .summary('rows per table of a running service')
  .description('Rows per table and ingest counters of a running service (GET /v1/stats).')
  .option('--url <url>', `the service (default: $CACHE_URL, else ${DEFAULT_URL})`)
  .option('--token <token>', "the service's CACHE_TOKEN (default: $CACHE_TOKEN)")
  .option('--json', 'print the JSON answer as it is')
  .action(
    action('stats', async (options: { url?: string; token?: string; json?: boolean }) => {
      const { statsCommand } = await import('./stats.js');
      await statsCommand({ url: serviceUrl(options.url), token: serviceToken(options.token), json: options.json ?? false });
    }),
  );

await program.parseAsync();
