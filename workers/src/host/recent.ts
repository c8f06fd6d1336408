import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenCaseInput, RecentEntry } from '../../../core/src/api.ts';
import { writeFileAtomic } from '../../../core/src/node/atomic.ts';

/** The recent-cases list (stateDir/recent.json), newest first; empty when there is none. */
export function readRecent(stateDir: string): RecentEntry[] {
  try {
    return JSON.parse(readFileSync(join(stateDir, 'recent.json'), 'utf8')) as RecentEntry[];
  } catch {
    return [];
  }
}

export function rememberRecent(stateDir: string, input: OpenCaseInput, name: string): void {
  const file = join(stateDir, 'recent.json');
  let list: RecentEntry[] = [];
  try {
    list = JSON.parse(readFileSync(file, 'utf8')) as RecentEntry[];
  } catch {}
  const key = JSON.stringify(input);
  list = [
    { input, name, openedAt: new Date().toISOString() },
    ...list.filter((r) => JSON.stringify(r.input) !== key),
  ];
  try {
    mkdirSync(stateDir, { recursive: true });
    writeFileAtomic(file, JSON.stringify(list.slice(0, 12), null, 1));
  } catch {
    // A read-only home must not stop a case from opening.
  }
}
