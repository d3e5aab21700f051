/**
 * Resource routes (PUT merge / GET / DELETE with cascades) against real PostgreSQL and embedded PGlite.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FastifyInstance } from '../../src/http/app.js';
import { makeApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { del, get, put } from '../helpers/http.js';

describe.each(backends)('resource routes (%s)', (_name, open) => {
  let app: FastifyInstance;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const opened = await open();
    close = opened.close;
    app = await makeApp(opened.db);
  });
  afterAll(async () => {
    await app?.close();
    await close?.();
  });

  describe('guilds', () => {
    // Discord's present-and-nullable guild properties (`T | null`) come back as null when not known.
    const nulls = Object.fromEntries(
      ['splash', 'discovery_splash', 'afk_channel_id', 'application_id', 'system_channel_id', 'rules_channel_id', 'vanity_url_code', 'description', 'banner', 'public_updates_channel_id', 'safety_alerts_channel_id'].map((k) => [k, null]),
    );

    test('PUT creates, then merges: present keys overwrite (null too), absent keys stay', async () => {
      const created = await put(app, '/v1/guilds/100', { id: '100', name: 'one', icon: 'abc', owner_id: '7', afk_timeout: 60 });
      expect(created).toEqual({
        status: 200,
        body: { ...nulls, id: '100', name: 'one', icon: 'abc', owner_id: '7', afk_timeout: 60 },
      });
      const merged = await put(app, '/v1/guilds/100', { name: 'two', icon: null, features: ['NEWS'] });
      expect(merged.status).toBe(200);
      expect(merged.body).toEqual({ ...nulls, id: '100', name: 'two', icon: null, owner_id: '7', afk_timeout: 60, features: ['NEWS'] });
      expect(await get(app, '/v1/guilds/100')).toEqual(merged);
    });

    test('GET of a guild not cached: 404 "guild <id> is not cached"', async () => {
      expect(await get(app, '/v1/guilds/404')).toEqual({
        status: 404,
        body: { statusCode: 404, error: 'Not Found', code: 'NOT_CACHED', message: 'guild 404 is not cached' },
      });
    });

    test('a body id that differs from the path is a 400', async () => {
      const res = await put(app, '/v1/guilds/101', { id: '102', name: 'x' });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/^body\.id /);
      expect((await get(app, '/v1/guilds/101')).status).toBe(404);
    });

    test('bad values name the field; a non-object body is a 400', async () => {
      const bad = await put(app, '/v1/guilds/103', { name: 5 });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toContain('body.name');
      expect((await put(app, '/v1/guilds/103', [1, 2])).status).toBe(400);
      expect((await put(app, '/v1/guilds/103')).status).toBe(400);
    });

    test('DELETE cascades to members, channels, threads, messages, presences and the unavailable row', async () => {
      const g = '200';
      await put(app, `/v1/guilds/${g}`, { name: 'doomed' });
      await put(app, `/v1/guilds/${g}/members/1`, { user: { id: '1', username: 'a' }, nick: 'n' });
      await put(app, `/v1/guilds/${g}/presences/1`, { status: 'online' });
      await put(app, '/v1/channels/210', { type: 0, guild_id: g });
      await put(app, '/v1/threads/220', { type: 11, guild_id: g, parent_id: '210' });
      await put(app, '/v1/channels/210/messages/230', { content: 'in channel' });
      await put(app, '/v1/channels/220/messages/231', { content: 'in thread' });
      await put(app, `/v1/unavailable-guilds/${g}`);
      // another guild's rows stay
      await put(app, '/v1/guilds/300', { name: 'kept' });
      await put(app, '/v1/channels/310', { type: 0, guild_id: '300' });
      await put(app, '/v1/channels/310/messages/330', { content: 'kept' });

      expect((await del(app, `/v1/guilds/${g}`)).status).toBe(204);

      for (const url of [
        `/v1/guilds/${g}`,
        `/v1/guilds/${g}/members/1`,
        `/v1/guilds/${g}/presences/1`,
        '/v1/channels/210',
        '/v1/threads/220',
        '/v1/channels/210/messages/230',
        '/v1/channels/220/messages/231',
        `/v1/unavailable-guilds/${g}`,
      ]) {
        expect((await get(app, url)).status, url).toBe(404);
      }
      expect((await get(app, '/v1/users/1')).status).toBe(200); // users are global
      expect((await get(app, '/v1/guilds/300')).status).toBe(200);
      expect((await get(app, '/v1/channels/310')).status).toBe(200);
      expect((await get(app, '/v1/channels/310/messages/330')).status).toBe(200);
      // DELETE of something absent is 204 too
      expect((await del(app, `/v1/guilds/${g}`)).status).toBe(204);
    });
  });

  describe('members', () => {
    test('PUT with `user` upserts the user too; GET includes it', async () => {
      const res = await put(app, '/v1/guilds/400/members/41', {
        user: { id: '41', username: 'alice', global_name: 'Alice' },
        nick: 'al',
        roles: ['400', '401'],
        joined_at: '2024-01-02T03:04:05.000Z',
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        nick: 'al',
        roles: ['400', '401'],
        joined_at: '2024-01-02T03:04:05+00:00', // timestamps come back normalised to UTC
        user: { id: '41', username: 'alice', global_name: 'Alice', avatar: null },
      });
      expect((await get(app, '/v1/users/41')).body).toEqual({ id: '41', username: 'alice', global_name: 'Alice', avatar: null });
      expect(await get(app, '/v1/guilds/400/members/41')).toEqual(res);
    });

    test('PUT merges; without `user` the user is untouched', async () => {
      const res = await put(app, '/v1/guilds/400/members/41', { nick: null, deaf: false });
      expect(res.body).toEqual({
        roles: ['400', '401'],
        joined_at: '2024-01-02T03:04:05+00:00',
        deaf: false,
        user: { id: '41', username: 'alice', global_name: 'Alice', avatar: null },
      });
    });

    test('GET of a member whose user is not cached has `user: { id }`', async () => {
      await put(app, '/v1/guilds/400/members/42', { nick: 'bob' });
      expect((await get(app, '/v1/guilds/400/members/42')).body).toEqual({ nick: 'bob', user: { id: '42' } });
    });

    test('body.user.id or body.guild_id differing from the path: 400 naming it', async () => {
      const user = await put(app, '/v1/guilds/400/members/43', { user: { id: '44' } });
      expect(user.status).toBe(400);
      expect(user.body.message).toMatch(/^body\.user\.id /);
      const guild = await put(app, '/v1/guilds/400/members/43', { guild_id: '401' });
      expect(guild.status).toBe(400);
      expect(guild.body.message).toMatch(/^body\.guild_id /);
      expect((await get(app, '/v1/guilds/400/members/43')).status).toBe(404);
      expect((await get(app, '/v1/users/44')).status).toBe(404);
    });

    test('404 message and DELETE (the user stays)', async () => {
      expect((await get(app, '/v1/guilds/400/members/49')).body.message).toBe('member 49 is not cached');
      expect((await del(app, '/v1/guilds/400/members/41')).status).toBe(204);
      expect((await get(app, '/v1/guilds/400/members/41')).status).toBe(404);
      expect((await get(app, '/v1/users/41')).status).toBe(200);
      expect((await del(app, '/v1/guilds/400/members/41')).status).toBe(204);
    });
  });

  describe('channels', () => {
    test('PUT creates and merges; GET; 404', async () => {
      const created = await put(app, '/v1/channels/500', {
        id: '500',
        type: 0,
        guild_id: '5',
        name: 'general',
        topic: 't',
        permission_overwrites: [{ id: '5', type: 0, allow: '0', deny: '1024' }],
      });
      expect(created.status).toBe(200);
      const merged = await put(app, '/v1/channels/500', { topic: null, position: 3 });
      expect(merged.body).toEqual({
        id: '500',
        type: 0,
        guild_id: '5',
        name: 'general',
        position: 3,
        permission_overwrites: [{ id: '5', type: 0, allow: '0', deny: '1024' }],
      });
      expect((await get(app, '/v1/channels/599')).body.message).toBe('channel 599 is not cached');
    });

    test('a thread type is rejected (threads are PUT at /v1/threads/:id)', async () => {
      for (const type of [10, 11, 12]) {
        const res = await put(app, '/v1/channels/501', { type, guild_id: '5' });
        expect(res.status).toBe(400);
        expect(res.body.message).toContain('body.type');
      }
      expect((await get(app, '/v1/channels/501')).status).toBe(404);
      expect((await get(app, '/v1/threads/501')).status).toBe(404);
    });

    test('DELETE cascades to its threads and the messages of both', async () => {
      await put(app, '/v1/channels/510', { type: 0, guild_id: '5' });
      await put(app, '/v1/threads/511', { type: 11, guild_id: '5', parent_id: '510' });
      await put(app, '/v1/threads/512', { type: 11, guild_id: '5', parent_id: '500' });
      await put(app, '/v1/channels/510/messages/513', { content: 'a' });
      await put(app, '/v1/channels/511/messages/514', { content: 'b' });
      await put(app, '/v1/channels/512/messages/515', { content: 'c' });
      expect((await del(app, '/v1/channels/510')).status).toBe(204);
      expect((await get(app, '/v1/channels/510')).status).toBe(404);
      expect((await get(app, '/v1/threads/511')).status).toBe(404);
      expect((await get(app, '/v1/channels/510/messages/513')).status).toBe(404);
      expect((await get(app, '/v1/channels/511/messages/514')).status).toBe(404);
      expect((await get(app, '/v1/threads/512')).status).toBe(200);
      expect((await get(app, '/v1/channels/512/messages/515')).status).toBe(200);
    });
  });

  describe('threads', () => {
    test('PUT creates and merges; a non-thread type is a 400', async () => {
      const res = await put(app, '/v1/threads/600', {
        type: 11,
        guild_id: '6',
        parent_id: '60',
        name: 'thread',
        thread_metadata: { archived: false, auto_archive_duration: 60 },
      });
      expect(res.status).toBe(200);
      const merged = await put(app, '/v1/threads/600', { name: 'renamed', message_count: 3 });
      expect(merged.body).toEqual({
        id: '600',
        type: 11,
        guild_id: '6',
        parent_id: '60',
        name: 'renamed',
        message_count: 3,
        thread_metadata: { archived: false, auto_archive_duration: 60 },
      });
      const bad = await put(app, '/v1/threads/601', { type: 0 });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toContain('body.type');
      expect((await get(app, '/v1/threads/601')).body.message).toBe('thread 601 is not cached');
    });

    test('DELETE cascades to its messages', async () => {
      await put(app, '/v1/channels/600/messages/602', { content: 'x' });
      expect((await del(app, '/v1/threads/600')).status).toBe(204);
      expect((await get(app, '/v1/threads/600')).status).toBe(404);
      expect((await get(app, '/v1/channels/600/messages/602')).status).toBe(404);
    });
  });

  describe('messages', () => {
    test('PUT stores the message with its author snapshot and merges', async () => {
      const res = await put(app, '/v1/channels/700/messages/701', {
        id: '701',
        channel_id: '700',
        guild_id: '7',
        content: 'hello',
        author: { id: '70', username: 'carol' },
        timestamp: '2024-05-06T07:08:09.000Z',
        embeds: [],
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        id: '701',
        channel_id: '700',
        guild_id: '7',
        content: 'hello',
        author: { id: '70', username: 'carol' },
        timestamp: '2024-05-06T07:08:09+00:00',
        edited_timestamp: null,
        embeds: [],
      });
      const merged = await put(app, '/v1/channels/700/messages/701', { content: 'edited', edited_timestamp: '2024-05-06T07:09:00.000Z' });
      expect(merged.body.content).toBe('edited');
      expect(merged.body.author).toEqual({ id: '70', username: 'carol' });
      expect(merged.body.edited_timestamp).toBe('2024-05-06T07:09:00+00:00');
    });

    test('body id or channel_id differing from the path: 400', async () => {
      const id = await put(app, '/v1/channels/700/messages/702', { id: '703' });
      expect(id.status).toBe(400);
      expect(id.body.message).toMatch(/^body\.id /);
      const channel = await put(app, '/v1/channels/700/messages/702', { channel_id: '799' });
      expect(channel.status).toBe(400);
      expect(channel.body.message).toMatch(/^body\.channel_id /);
    });

    test('a message is found only under its own channel', async () => {
      expect((await get(app, '/v1/channels/799/messages/701')).body.message).toBe('message 701 is not cached');
      expect((await del(app, '/v1/channels/799/messages/701')).status).toBe(204);
      expect((await get(app, '/v1/channels/700/messages/701')).status).toBe(200);
      expect((await del(app, '/v1/channels/700/messages/701')).status).toBe(204);
      expect((await get(app, '/v1/channels/700/messages/701')).status).toBe(404);
    });
  });

  describe('presences', () => {
    test('PUT merges; `user` is the cached user or { id }', async () => {
      const res = await put(app, '/v1/guilds/800/presences/80', {
        user: { id: '80' },
        status: 'online',
        activities: [{ name: 'x', type: 0 }],
      });
      expect(res).toEqual({
        status: 200,
        body: { guild_id: '800', status: 'online', activities: [{ name: 'x', type: 0 }], user: { id: '80' } },
      });
      await put(app, '/v1/users/80', { username: 'dave' });
      const merged = await put(app, '/v1/guilds/800/presences/80', { status: 'idle' });
      expect(merged.body).toEqual({
        guild_id: '800',
        status: 'idle',
        activities: [{ name: 'x', type: 0 }],
        user: { id: '80', username: 'dave', global_name: null, avatar: null },
      });
      const bad = await put(app, '/v1/guilds/800/presences/80', { user: { id: '81' } });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toMatch(/^body\.user\.id /);
      expect((await get(app, '/v1/guilds/800/presences/81')).body.message).toBe('presence 81 is not cached');
      expect((await del(app, '/v1/guilds/800/presences/80')).status).toBe(204);
      expect((await get(app, '/v1/guilds/800/presences/80')).status).toBe(404);
    });
  });

  describe('unavailable guilds', () => {
    test('PUT with no body or {}; GET; DELETE', async () => {
      expect(await put(app, '/v1/unavailable-guilds/900')).toEqual({ status: 200, body: { id: '900', unavailable: true } });
      expect(await put(app, '/v1/unavailable-guilds/901', {})).toEqual({ status: 200, body: { id: '901', unavailable: true } });
      const empty = await app.inject({
        method: 'PUT',
        url: '/v1/unavailable-guilds/902',
        headers: { 'content-type': 'application/json' },
        payload: '',
      });
      expect(empty.statusCode).toBe(200);
      expect((await put(app, '/v1/unavailable-guilds/903', { id: '904' })).status).toBe(400);
      expect((await put(app, '/v1/unavailable-guilds/903', [1])).status).toBe(400);
      expect((await get(app, '/v1/unavailable-guilds/901')).body).toEqual({ id: '901', unavailable: true });
      expect((await get(app, '/v1/unavailable-guilds/903')).body.message).toBe('unavailable guild 903 is not cached');
      expect((await del(app, '/v1/unavailable-guilds/901')).status).toBe(204);
      expect((await get(app, '/v1/unavailable-guilds/901')).status).toBe(404);
    });
  });

  describe('bad ids', () => {
    test.each([
      ['GET', '/v1/guilds/abc', 'params.guildId'],
      ['PUT', '/v1/guilds/12a', 'params.guildId'],
      ['DELETE', '/v1/guilds/-1', 'params.guildId'],
      ['GET', '/v1/guilds/9223372036854775808', 'params.guildId'],
      ['GET', '/v1/guilds/123456789012345678901', 'params.guildId'],
      ['GET', '/v1/guilds/1/members/x', 'params.userId'],
      ['GET', '/v1/guilds/x/members/1', 'params.guildId'],
      ['PUT', '/v1/guilds/1/presences/1.5', 'params.userId'],
      ['GET', '/v1/channels/%20', 'params.channelId'],
      ['DELETE', '/v1/threads/abc', 'params.threadId'],
      ['GET', '/v1/channels/1/messages/abc', 'params.messageId'],
      ['PUT', '/v1/channels/abc/messages/1', 'params.channelId'],
      ['GET', '/v1/unavailable-guilds/abc', 'params.guildId'],
      ['GET', '/v1/guilds/1/members/abc/permissions', 'params.userId'],
    ] as const)('%s %s → 400 naming %s', async (method, url, field) => {
      const res = await app.inject({ method, url, payload: method === 'PUT' ? {} : undefined });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(res.json().message).toMatch(new RegExp(`^${field.replace('.', '\\.')} must be a snowflake`));
    });
  });
});
