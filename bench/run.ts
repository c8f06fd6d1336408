/**
 * `npm run bench`: runs every bench/*.bench.ts (or those named on the command line), prints one
 * table and writes bench-results/bench-<date>.json. Speed targets live here, never in tests.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchModule, BenchRow } from './types.ts';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

const rows: BenchRow[] = [];
let failed = 0;
for (const f of files) {
  // One bench that cannot run (a missing tool, a missing data file) is said in one line; the rest run.
  try {
    const mod = (await import(join(here, f))) as BenchModule;
    console.error(`bench: ${mod.title} (${f})`);
    rows.push(...(await mod.run()));
  } catch (e) {
    failed++;
    console.error(`bench: ${f} failed: ${(e as Error).message}`);
  }
}
process.exitCode = failed ? 1 : 0;

const fmt = (v: number) =>
  Number.isNaN(v)
    ? '-'
    : Math.abs(v) >= 100
      ? v.toFixed(0)
      : Math.abs(v) >= 1
        ? v.toFixed(2)
        : v.toPrecision(3);
const table = rows.map((r) => [r.group, r.name, fmt(r.value), r.unit, r.goal ?? '', r.note ?? '']);
const head = ['group', 'measure', 'value', 'unit', 'goal', 'note'];
const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const t of table) console.log(line(t));

const outDir = join(here, '..', 'bench-results');
mkdirSync(outDir, { recursive: true });
const out = join(outDir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(
  out,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      cpus: (await import('node:os')).cpus().length,
      rows,
    },
    null,
    2,
  ),
);
console.log(`\nwritten: ${out}`);
