/**
 * The status page (`GET /`) in headless Chromium (Debian's `chromium`, driven by playwright-core) against the
 * real service on PostgreSQL with CACHE_TOKEN set: it asks for the token, keeps it for the tab, goes live on
 * /v1/changes and updates as dispatches arrive (row counts, rates, the commits list). Without Chromium the
 * test is skipped, except in CI (`.ci/run` installs it). `STATUS_PAGE_SCREENSHOT=docs/status-page.png` saves a
 * screenshot (the README's).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type FastifyInstance } from '../../src/http/app.js';
import { createPostgres } from '../helpers/db.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'page-token';
const G = '81384788765712384';
const U = (n: number) => String(80351110224678912n + BigInt(n));

const ev = (t: string, d: unknown) => ({ op: 0, t, s: 1, d });
const member = (userId: string) => ({
  guild_id: G,
  user: { id: userId, username: `user${userId.slice(-3)}`, discriminator: '0' },
  roles: [],
  joined_at: '2024-02-27T19:50:51.701000+00:00',
  deaf: false,
  mute: false,
  flags: 0,
});

const missing = !existsSync(CHROMIUM) && !process.env.CI;
if (missing) console.warn(`status page test skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

describe.skipIf(missing)('the status page in headless Chromium', () => {
  let database: Awaited<ReturnType<typeof createPostgres>>;
  let app: FastifyInstance;
  let url: string;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const dispatch = async (body: unknown) => {
    const res = await fetch(`${url}/v1/dispatch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
  };
  const text = (selector: string) => page.locator(selector).innerText();

  beforeAll(async () => {
    database = await createPostgres();
    app = await buildApp({ db: database.db, logLevel: false, cacheToken: TOKEN });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;
    await dispatch(
      ev('GUILD_CREATE', {
        id: G,
        name: 'Guild',
        channels: [{ id: U(100), type: 0, name: 'general', position: 0, permission_overwrites: [] }],
        threads: [],
        roles: [],
        members: [member(U(1))],
        presences: [],
      }),
    );
    profile = mkdtempSync(path.join(os.tmpdir(), 'dsc-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1100, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
  }, 120_000);
  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await app?.close();
    await database?.close();
  });

  it('asks for the token, then renders the live figures and updates as dispatches arrive', async () => {
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    // Console errors other than the answers the page expects (401 before the token, 404 from /v1/shards).
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/status of (401|404)/.test(msg.text())) errors.push(msg.text());
    });
    await page.goto(`${url}/`);
    await page.locator('#login').waitFor({ state: 'visible' });
    expect(await page.locator('#state').getAttribute('data-state')).toBe('unauthorized');

    await page.fill('#token', 'wrong');
    await page.click('#login button[type=submit]');
    await page.locator('#login-error').waitFor({ state: 'visible' });

    await page.fill('#token', TOKEN);
    await page.click('#login button[type=submit]');
    await page.locator('#state[data-state=live]').waitFor();
    expect(await page.locator('#login').isVisible()).toBe(false);
    expect(await page.evaluate("sessionStorage.getItem('discord-state-cache-token')")).toBe(TOKEN);

    // The first stats: row counts from the database.
    await page.locator('#tables tr[data-table=members] td.rows', { hasText: '1' }).waitFor();
    expect(await text('#tables tr[data-table=channels] td.rows')).toBe('1');

    // Dispatches arrive: counts, rates and the commits list follow.
    for (let i = 0; i < 20; i++) await dispatch([ev('GUILD_MEMBER_ADD', member(U(10 + i))), ev('PRESENCE_UPDATE', { guild_id: G, user: { id: U(10 + i) }, status: 'online', activities: [] })]);
    await page.locator('#tables tr[data-table=members] td.rows', { hasText: '21' }).waitFor({ timeout: 15_000 });
    expect(Number(await text('#tables tr[data-table=members] td.changes'))).toBeGreaterThanOrEqual(20);
    expect(await text('#commits li:first-child')).toMatch(/^#\d+\s+\d+ changes?: /);
    await page.waitForFunction("Number(document.querySelector('#applied').textContent.replace(/,/g, '')) >= 41");
    expect(await text('#position')).toMatch(/^\d/);
    // No /v1/shards on this service: the section stays hidden.
    expect(await page.locator('#shards-section').isVisible()).toBe(false);

    // The token stays for the tab: a reload goes live without asking.
    await page.reload();
    await page.locator('#state[data-state=live]').waitFor();
    await page.locator('#tables tr[data-table=members] td.rows', { hasText: '21' }).waitFor();
    await dispatch(ev('GUILD_MEMBER_ADD', member(U(99))));
    await page.locator('#tables tr[data-table=members] td.rows', { hasText: '22' }).waitFor({ timeout: 15_000 });

    if (process.env.STATUS_PAGE_SCREENSHOT) {
      // A few seconds of traffic, photographed while it flows.
      const message = (i: number) =>
        ev('MESSAGE_CREATE', { id: U(1_000 + i), channel_id: U(100), guild_id: G, author: { id: U(1 + (i % 20)), username: 'u' }, content: 'hi', timestamp: '2026-01-01T00:00:00+00:00', type: 0, mentions: [], attachments: [], embeds: [] });
      const presence = (i: number) => ev('PRESENCE_UPDATE', { guild_id: G, user: { id: U(1 + (i % 20)) }, status: i % 2 ? 'idle' : 'online', activities: [] });
      const until = Date.now() + 4_000;
      const traffic = (async () => {
        for (let i = 0; Date.now() < until; i++) await dispatch([message(i), presence(i), ev('GUILD_MEMBER_ADD', member(U(200 + i)))]);
      })();
      await page.waitForTimeout(3_500);
      await page.screenshot({ path: process.env.STATUS_PAGE_SCREENSHOT, fullPage: true });
      await traffic;
    }
    expect(errors).toEqual([]);
  }, 90_000);
});
