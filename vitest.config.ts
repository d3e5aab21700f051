import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each integration file makes its own database; two workers fit the 2-core machines.
    maxWorkers: 2,
    reporters: ['default', './tests/summary-reporter.ts'],
  },
});
