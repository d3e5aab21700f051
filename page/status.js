// The status page: reads GET /v1/changes?stats=1 (server-sent events) with fetch, so that the token travels in
// the Authorization header (EventSource cannot send headers), and renders what it says. No dependencies.
'use strict';

const TOKEN_KEY = 'discord-state-cache-token';
const $ = (id) => document.getElementById(id);
const number = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

let controller;
let lastEventId;
let retryMs = 500;
let rows = {};
/** [time, table, changes] of the commits heard in the last 10 s. */
let recent = [];
const spark = [];

const token = () => sessionStorage.getItem(TOKEN_KEY) || undefined;
const show = (n, f = number) => (n === null || n === undefined || Number.isNaN(n) ? '–' : f.format(n));

function setState(state, text) {
  const el = $('state');
  el.className = `state ${state}`;
  el.dataset.state = state;
  el.textContent = text;
}

function setPosition(id) {
  lastEventId = String(id);
  $('position').textContent = number.format(id);
}

function showLogin(wrong) {
  $('login').hidden = false;
  $('login-error').hidden = !wrong;
  $('token').focus();
}

function retry() {
  setTimeout(connect, retryMs);
  retryMs = Math.min(5000, retryMs * 2);
}

async function connect() {
  if (controller) controller.abort();
  controller = new AbortController();
  setState('connecting', 'connecting…');
  const headers = { accept: 'text/event-stream' };
  if (token()) headers.authorization = `Bearer ${token()}`;
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  let res;
  try {
    res = await fetch('/v1/changes?stats=1', { headers, signal: controller.signal, cache: 'no-store' });
  } catch {
    setState('down', 'unreachable');
    return retry();
  }
  if (res.status === 401) {
    setState('unauthorized', 'token needed');
    return showLogin(token() !== undefined);
  }
  if (!res.ok) {
    setState('down', `feed down (${res.status})`);
    return retry();
  }
  $('login').hidden = true;
  $('forget').hidden = !token();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        dispatch(block);
      }
    }
  } catch {
    // aborted or cut: reconnect below
  }
  setState('down', 'disconnected');
  retry();
}

/** One server-sent event (its lines). */
function dispatch(block) {
  let event = 'message';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data += (data ? '\n' : '') + value;
    else if (field === 'id') setPosition(Number(value));
  }
  if (!data) return;
  const body = JSON.parse(data);
  if (event === 'ready') {
    retryMs = 500;
    setState('live', 'live');
  } else if (event === 'change') onChange(body);
  else if (event === 'reset') addCommit(`reset at ${number.format(body.id)}: ${body.reason}`, 'reset');
  else if (event === 'stats') onStats(body);
}

function onChange(body) {
  const now = Date.now();
  const perTable = new Map();
  for (const c of body.changes) perTable.set(c.table, (perTable.get(c.table) || 0) + 1);
  for (const [table, n] of perTable) recent.push([now, table, n]);
  const what = [...perTable].map(([t, n]) => `${t} ${n}`).join(', ');
  addCommit(`#${body.id}  ${body.changes.length} change${body.changes.length === 1 ? '' : 's'}: ${what}`);
}

function addCommit(text, kind) {
  const list = $('commits');
  const li = document.createElement('li');
  li.textContent = text;
  if (kind) li.className = kind;
  list.prepend(li);
  while (list.children.length > 15) list.lastChild.remove();
}

function onStats(s) {
  $('events-rate').textContent = show(s.ingest.events_per_second);
  $('commits-rate').textContent = show(s.feed.commits_per_second);
  $('changes-rate').textContent = show(s.feed.changes_per_second);
  $('commit-mean').textContent = s.commit.mean_ms === null ? '–' : `${decimal.format(s.commit.mean_ms)} ms`;
  $('commit-p99').textContent = s.commit.p99_ms === null ? '–' : `${decimal.format(s.commit.p99_ms)} ms`;
  $('queue-depth').textContent = show(s.ingest.queue_depth);
  $('applied').textContent = show(s.ingest.applied);
  $('ignored').textContent = show(s.ingest.ignored);
  $('transactions').textContent = show(s.ingest.transactions);
  $('subscribers').textContent = show(s.feed.subscribers);
  $('resets').textContent = show(s.feed.resets);
  if (s.rows) rows = s.rows;
  $('rows-at').textContent = s.rows_at ? `rows counted ${new Date(s.rows_at).toLocaleTimeString()}` : '';
  spark.push(s.ingest.events_per_second || 0);
  if (spark.length > 60) spark.shift();
  drawSpark();
  renderTables();
}

function drawSpark() {
  const max = Math.max(1, ...spark);
  const points = spark.map((v, i) => `${(i * 120) / 59},${30 - (v / max) * 28 - 1}`).join(' ');
  $('events-spark').querySelector('polyline').setAttribute('points', points);
}

function renderTables() {
  const cutoff = Date.now() - 10_000;
  recent = recent.filter(([t]) => t >= cutoff);
  const changes = new Map();
  for (const [, table, n] of recent) changes.set(table, (changes.get(table) || 0) + n);
  const names = [...new Set([...Object.keys(rows), ...changes.keys()])];
  const body = $('tables').querySelector('tbody');
  body.replaceChildren(
    ...names.map((name) => {
      const tr = document.createElement('tr');
      tr.dataset.table = name;
      if (changes.get(name)) tr.className = 'flash';
      for (const [text, cls] of [[name, ''], [show(rows[name]), 'num rows'], [show(changes.get(name) || 0), 'num changes']]) {
        const td = document.createElement('td');
        td.textContent = text;
        if (cls) td.className = cls;
        tr.append(td);
      }
      return tr;
    }),
  );
}

/** Shards and leases, when the service has them (`/v1/shards`): polled, shown only while it answers 200. */
async function pollShards() {
  try {
    const headers = token() ? { authorization: `Bearer ${token()}` } : {};
    const res = await fetch('/v1/shards', { headers, cache: 'no-store' });
    const list = res.ok ? await res.json() : undefined;
    const items = Array.isArray(list) ? list : list && Array.isArray(list.shards) ? list.shards : undefined;
    $('shards-section').hidden = !items;
    if (items) renderShards(items);
  } catch {
    $('shards-section').hidden = true;
  }
  setTimeout(pollShards, 5000);
}

function renderShards(items) {
  const keys = [...new Set(items.flatMap((item) => Object.keys(item)))];
  const head = document.createElement('tr');
  for (const k of keys) {
    const th = document.createElement('th');
    th.textContent = k;
    head.append(th);
  }
  $('shards').querySelector('thead').replaceChildren(head);
  $('shards').querySelector('tbody').replaceChildren(
    ...items.map((item) => {
      const tr = document.createElement('tr');
      for (const k of keys) {
        const td = document.createElement('td');
        const v = item[k];
        td.textContent = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
        tr.append(td);
      }
      return tr;
    }),
  );
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value);
  $('token').value = '';
  connect();
});
$('forget').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  if (controller) controller.abort();
});

connect();
pollShards();
