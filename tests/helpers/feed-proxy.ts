/**
 * A TCP proxy in front of the service that delays what the service sends on `GET /v1/changes` connections
 * by `delayMs` (in order), and passes every other connection through: a change feed that lags behind the
 * answers to writes, as a busy or distant instance's may.
 */
import net from 'node:net';

export class FeedDelayProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  url = '';

  constructor(
    private readonly target: URL,
    private readonly delayMs: number,
  ) {}

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(this.target.port), this.target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.once('data', (first: Buffer) => {
        upstream.write(first);
        client.pipe(upstream);
        if (!first.toString('latin1').startsWith('GET /v1/changes')) return void upstream.pipe(client);
        upstream.on('data', (chunk: Buffer) => setTimeout(() => client.write(chunk), this.delayMs));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    this.server = server;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
