import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // tfjs keeps one global engine per process; forks isolate each file's backend and kernel registry.
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores, one on this 2-core machine; the test
    // files are independent processes, so both cores run them.
    maxWorkers: 2,
    testTimeout: 120_000,
    // One wasm thread in tests: each test file is a process of its own, and their kernels'
    // results do not depend on the thread count (the threaded build is exercised by bench).
    env: { FLOPLEDGER_WASM_THREADS: '1' },
    hookTimeout: 120_000,
  },
});
