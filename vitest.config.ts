import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

const UNIT = ['test/unit', 'test/integration'];
/**
 * Files that replace a module (vi.mock): they need a fresh module cache, so they run isolated;
 * the other unit files share their worker's (isolate: false), which spared ~45 s of the ~55 s
 * the unit files spent importing the same modules again, file after file (2-core machine).
 */
const MOCKING = UNIT.flatMap((d) =>
  readdirSync(d)
    .filter((f) => f.endsWith('.test.ts') && /\bvi\.(do)?mock\(/.test(readFileSync(join(d, f), 'utf8')))
    .map((f) => `${d}/${f}`),
);

// One runner for everything. `unit` covers core/worker logic and integration tests on
// real data; `browser` drives Debian Chromium through playwright-core against browser mode.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: UNIT.map((d) => `${d}/**/*.test.ts`),
          exclude: MOCKING,
          isolate: false,
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
          name: 'unit-mocking',
          include: MOCKING,
          testTimeout: 60_000,
          hookTimeout: 120_000,
          pool: 'forks',
          // the same maxWorkers as `unit`: vitest then runs both projects' files together
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
          // Two files at a time, as the unit files. Alone, a browser file kept the 2 cores only ~58%
          // busy (waits on the page, the host and the engine; measured at the 1024x720 viewport
          // without GPU compositing, harness.ts): two at a time ran the 15 browser files in 322 s
          // instead of 398 s. (At 1400x900 with compositing, SwiftShader filled the cores and two at
          // a time saved nothing.)
          maxWorkers: 2,
        },
      },
    ],
  },
});
