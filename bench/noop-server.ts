/**
 * The do-nothing route of workload (5): a child process like the service (Node, tsx, Fastify with its default
 * JSON parser and the service's 256 MB body limit), whose `POST /v1/dispatch` parses the body and answers `{}`.
 * The storm's bodies posted here give the floor the HTTP upload and `JSON.parse` set on this machine.
 * Environment: HOST (127.0.0.1), PORT.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 256 * 1024 * 1024 });
app.post('/v1/dispatch', async () => ({}));
app.get('/ready', async () => ({}));

await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT) });
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    void app.close().finally(() => process.exit(0));
  });
}
