/** `discord-state-cache stats`: GET /v1/stats as a table (whatever tables and counters the service reports). */
import { CacheClient } from '../client/index.js';

export interface StatsCommandOptions {
  url: string;
  token: string | undefined;
  json: boolean;
}

type Section = Record<string, number>;

const count = (n: number) => n.toLocaleString('en-US');

function table(title: [string, string], rows: [string, string][]): string[] {
  const left = Math.max(title[0].length, ...rows.map(([k]) => k.length));
  const right = Math.max(title[1].length, ...rows.map(([, v]) => v.length));
  return [title, ...rows].map(([k, v]) => `${k.padEnd(left)}  ${v.padStart(right)}`);
}

/** Rows per table (and their total), then the ingest counters. */
export function formatStats(stats: { tables: Section; ingest: Section }): string {
  const tables = Object.entries(stats.tables);
  const total = tables.reduce((sum, [, n]) => sum + n, 0);
  const lines = table(['table', 'rows'], [...tables.map(([k, n]): [string, string] => [k, count(n)]), ['total', count(total)]]);
  lines.push('', ...table(['ingest (since the service started)', 'count'], Object.entries(stats.ingest).map(([k, n]) => [k, count(n)])));
  return lines.join('\n');
}

export async function statsCommand(options: StatsCommandOptions): Promise<void> {
  const client = new CacheClient({ url: options.url, token: options.token });
  try {
    const stats = await client.stats();
    console.log(options.json ? JSON.stringify(stats, null, 2) : formatStats(stats));
  } finally {
    await client.close();
  }
}
