/**
 * Optional preload for the service child (BENCH_CHILD_TRACE=1): reports to stderr which signal arrived and
 * where `process.exit` was called from, to explain an unexpected exit. Listeners only log; the service's own
 * SIGINT/SIGTERM handling is unchanged.
 */
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => process.stderr.write(`[child-trace] received ${sig} at ${new Date().toISOString()}\n`));
}
process.on('exit', (code) => {
  const stack = new Error('exit').stack?.split('\n').slice(2, 12).join('\n') ?? '';
  process.stderr.write(`[child-trace] exit code ${code} at ${new Date().toISOString()}\n${stack}\n`);
});
