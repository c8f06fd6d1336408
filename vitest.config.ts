import { defineConfig } from 'vitest/config';

// One runner for everything. `unit` covers core/worker logic and integration tests on
// real data; `browser` drives Debian Chromium through playwright-core against browser mode.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          pool: 'forks',
          // Two files at a time. Vitest's default on a 2-core machine is one (cores - 1), and these
          // files spend much of their time waiting on child processes (engine, CLI, Orthanc) and
          // files, so the suite ran at ~1 core of 2. ORT's idle threads sleep (providers.ts).
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          pool: 'forks',
          // One file at a time, after the unit files: beside other files Chromium's software GL
          // slowed them ~2x, so running them two at a time saved nothing (measured).
          fileParallelism: false,
        },
      },
    ],
  },
});
