/**
 * Which database a request reads from: the one place that decides it.
 *
 * With READ_DATABASE_URL, a GET of /v1 reads the replica, unless it asks for `?consistency=primary` or the
 * header `x-consistency: primary` (to read its own writes at once). Everything else reads the primary: the
 * object a PUT answers, the reads of DELETE and of the writer. Without a replica every read is the
 * primary's, and `consistency=primary` is accepted all the same, so clients need not know.
 */
import type { FastifyRequest, RouteOptions } from 'fastify';
import type { Reads } from '../cache/reads.js';

const consistency = {
  type: 'string',
  enum: ['primary'],
  description:
    'primary: read the primary database, not the read replica (READ_DATABASE_URL): the answer includes every ' +
    'write answered before it. Without it, a GET may be behind by the replica lag',
};

type ObjectSchema = { type?: string; properties?: Record<string, unknown> };

const withProperty = (schema: unknown, name: string): ObjectSchema => {
  const s = (schema ?? { type: 'object' }) as ObjectSchema;
  return { ...s, properties: { ...s.properties, [name]: consistency } };
};

/** onRoute hook: every GET of /v1 accepts, validates and documents `?consistency=` and `x-consistency`. */
export function acceptConsistency(route: RouteOptions): void {
  const reads = [route.method].flat().every((m) => m === 'GET' || m === 'HEAD');
  if (!reads || !route.url.startsWith('/v1/')) return;
  const schema = route.schema ?? {};
  route.schema = {
    ...schema,
    querystring: withProperty(schema.querystring, 'consistency'),
    headers: withProperty(schema.headers, 'x-consistency'),
  };
}

const wantsPrimary = (request: FastifyRequest) =>
  (request.query as { consistency?: unknown } | undefined)?.consistency === 'primary' ||
  request.headers['x-consistency'] === 'primary';

/** `readsFor(request)` of the route context: the reads a GET handler uses (see the header). */
export function readsChooser(primary: Reads, replica: Reads | undefined): (request: FastifyRequest) => Reads {
  if (!replica) return () => primary;
  return (request) => (wantsPrimary(request) ? primary : replica);
}
