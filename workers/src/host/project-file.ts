import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PrelabelParams, PrelabelState, WorklistCase } from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import type { CaseReport } from '../case-report.ts';

/**
 * A dataset's project.json (worklist.ts): the queue and, per case, what the worklist keeps across
 * restarts; and the rules that turn it into the worklist a reviewer sees (its rows and their order).
 */
export const PROJECT_VERSION = 1;

/** What project.json keeps per case: the worklist row less what is found again at open. */
export interface StoredCase extends Omit<WorklistCase, 'path' | 'proposalDir' | 'labelPath'> {
  /** ISO time the running review period began (status in-review). */
  reviewStartedAt?: string;
}

/** A case as the open worklist holds it: stored, plus where its files are now. */
export type OpenCase = StoredCase & { path: string; labelPath?: string };

export interface ProjectFile {
  quorumProject: number;
  folder: string;
  savedAt: string;
  queue: { state: PrelabelState; params: PrelabelParams };
  cases: StoredCase[];
}

/** The project file, or undefined when there is none yet; one of another version or unreadable is refused. */
export function readProjectFile(file: string): ProjectFile | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as ProjectFile;
    if (stored.quorumProject !== PROJECT_VERSION) throw new Error(`version ${stored.quorumProject}`);
    return stored;
  } catch (e) {
    throw new QuorumError('corrupt', `unreadable project file (${(e as Error).message})`, file);
  }
}

/** What the worklist keeps of a proposal's report.json (older reports have no confidence). */
export function fromReport(c: StoredCase, r: CaseReport): void {
  c.lesionVolumeMl = r.lesionVolumeMl;
  c.uncertaintyMl = typeof r.uncertainMl === 'number' ? r.uncertainMl : r.uncertaintyMm3 / 1000;
  const known = typeof r.confidence === 'number' && r.confidence >= 0 && r.confidence <= 1;
  c.confidence = known ? r.confidence : undefined;
  c.lowConfidence = known && typeof r.lowConfidence === 'boolean' ? r.lowConfidence : undefined;
  c.error = undefined;
}

/**
 * The worklist's order: lowest confidence first, ties by most uncertain mL; then proposals of
 * unknown confidence (reports written before it), most uncertain first; cases without a proposal
 * last; by name.
 */
export function worklistOrder(a: StoredCase, b: StoredCase): number {
  const rank = (c: StoredCase) => (c.uncertaintyMl === undefined ? 2 : c.confidence === undefined ? 1 : 0);
  const ua = a.uncertaintyMl ?? Number.NEGATIVE_INFINITY;
  const ub = b.uncertaintyMl ?? Number.NEGATIVE_INFINITY;
  return (
    rank(a) - rank(b) ||
    (a.confidence ?? 0) - (b.confidence ?? 0) ||
    ub - ua ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
}

/** A case's worklist row: the time spent includes a review running now. */
export function worklistRow(c: OpenCase, proposalsDir: string): WorklistCase {
  const running = c.reviewStartedAt ? (Date.now() - Date.parse(c.reviewStartedAt)) / 1000 : 0;
  const proposalDir = join(proposalsDir, c.name);
  return {
    name: c.name,
    path: c.path,
    status: c.status,
    lesionVolumeMl: c.lesionVolumeMl,
    uncertaintyMl: c.uncertaintyMl,
    confidence: c.confidence,
    lowConfidence: c.lowConfidence,
    secondsSpent: Math.round((c.secondsSpent + running) * 10) / 10,
    proposalDir: c.uncertaintyMl !== undefined ? proposalDir : undefined,
    error: c.error,
    ...(c.labelPath
      ? { labelPath: c.labelPath, labelDisagreement: c.labelDisagreement, labelDice: c.labelDice }
      : {}),
  };
}
