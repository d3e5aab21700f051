/**
 * The status page: `GET /` and its script and style, plain files from `page/` at the package root (shipped
 * in the npm package; no build step). The page holds no data: it reads `/v1/changes?stats=1` with the token
 * the user gives it (see the README, "Status page"), so it is served without one.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

export const PAGE_FOLDER = new URL('../../../page/', import.meta.url);

const FILES: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/status.js': ['status.js', 'text/javascript; charset=utf-8'],
  '/status.css': ['status.css', 'text/css; charset=utf-8'],
};

/** Only the page's own script, style and requests; no framing (the page asks for a token). */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function pageRoutes(app: FastifyInstance) {
  const security: [] = [];
  for (const [path, [file, type]] of Object.entries(FILES)) {
    const body = readFileSync(new URL(file, PAGE_FOLDER));
    app.get(path, { schema: { tags: ['operations'], security, summary: path === '/' ? 'The status page (HTML)' : `The status page's ${file}` } }, async (_request, reply) =>
      reply
        .header('content-type', type)
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
        .send(body),
    );
  }
}
