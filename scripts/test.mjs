#!/usr/bin/env node
// `npm test`: lint, typecheck, then every vitest project (unit/integration on real data, browser
// in headless Chromium). Stops at the first failing stage so CI logs end at the real problem.
import { spawnSync } from 'node:child_process';

const stages = [
  ['lint', ['npx', 'biome', 'check', '.']],
  ['typecheck', ['npx', 'tsc', '--noEmit', '-p', 'tsconfig.json']],
  ['typecheck core (no DOM, no Node)', ['npx', 'tsc', '--noEmit', '-p', 'core/tsconfig.json']],
  ['tests', ['npx', 'vitest', 'run', ...process.argv.slice(2)]],
];

for (const [name, [cmd, ...args]] of stages) {
  console.log(`\n=== ${name}: ${cmd} ${args.join(' ')}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    console.error(`\n=== ${name} FAILED (exit ${r.status ?? r.signal}) after ${secs}s`);
    process.exit(r.status || 1);
  }
  console.log(`=== ${name} ok in ${secs}s`);
}
