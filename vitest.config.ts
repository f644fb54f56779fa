import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Recorder tests load BPF programs and start real servers; running files in parallel on a
    // 2-core VM makes them contend for the same CPUs and ports.
    fileParallelism: false,
  },
});
