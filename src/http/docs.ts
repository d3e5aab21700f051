/**
 * OpenAPI: @fastify/swagger collects every route registered after it (so this runs before the routes), and
 * @fastify/swagger-ui serves the UI at /docs and the document at /docs/json (no token needed).
 */
import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { TABLES, TABLE_NAMES } from '../db/tables.js';
import { formatSchemaErrors, sharedSchemas } from './schemas.js';

const DESCRIPTION = `Persistent cache of Discord gateway state. Objects in and out have Discord's raw JSON shape
(snake_case keys, snowflakes as strings, ISO-8601 timestamps, permissions as decimal strings).

- PUT merges: keys present overwrite (null included), absent keys keep their cached value; the row is created
  when missing; a body id that differs from the path is a 400. PUT answers the stored object.
- GET of one object: 404 \`<kind> <id> is not cached\`. DELETE: 204, also when absent.
- Lists: JSON arrays, keyset paging by id (\`limit\` 1–1000, default 100; \`after\` / \`before\`).
- Errors: \`{ statusCode, error, code, message }\` (the Error schema lists the codes); 400 names the offending field.`;

/** The package version (package.json sits two levels up from both src/http and dist/http). */
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function registerDocs(app: FastifyInstance) {
  app.setSchemaErrorFormatter(formatSchemaErrors);
  for (const schema of sharedSchemas) app.addSchema(schema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'discord-state-cache', description: DESCRIPTION, version: VERSION },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'CACHE_TOKEN; required on /v1/* when the service is started with CACHE_TOKEN set',
          },
        },
      },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'ingest', description: 'Gateway events in' },
        ...TABLE_NAMES.map((t) => ({ name: TABLES[t].tag })),
        { name: 'computed', description: 'Permissions and statistics' },
        { name: 'feed', description: 'What each commit changed, as server-sent events' },
        { name: 'operations', description: 'Health, readiness, metrics (no token)' },
      ],
    },
    // Shared schemas keep their `$id` as component name (`#/components/schemas/Guild`).
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
