import { QuorumError } from '../../../core/src/errors.ts';
import { type AgreementSums, caseConfidence } from '../../../core/src/metrics.ts';
import type { SequenceName } from '../../../core/src/volume.ts';
import type { EngineClient } from '../client.ts';
import type { CaseRunner } from '../propose-case.ts';
import type { ProposeRequest, ProposeSummary } from '../protocol.ts';
import { removeCaseFile, writeCaseFile } from './case-files.ts';
import { type EngineScheduler, type ScheduledRun, sliceBatches } from './scheduler.ts';

/**
 * Pre-labelling in the host as one more participant of the engine scheduler (scheduler.ts): a
 * dataset's queue takes its own turn (`owner`), its case is cut into slice batches like an
 * interactive run (propose-run.ts), so a colleague's single slice waits for one batch, not for a
 * whole pre-labelled case. The case's model channels go to the engine by a private case file
 * (case-files.ts), removed when the case is done, failed or cancelled. What proposeCaseToDir
 * gets is what one whole request gives (slices are seeded by (seed, k), the model's output does
 * not depend on the batch): the same slice results, one summary, progress over the case.
 */
export interface ScheduledCaseOptions {
  scheduler: EngineScheduler;
  engine: () => Promise<EngineClient>;
  /** The scheduler's turn this queue takes (one per dataset). */
  owner: string;
  /** The model's input sequences (what the case file holds). */
  channels: SequenceName[];
  batchImages?: number;
}

export function scheduledRunner(opts: ScheduledCaseOptions): CaseRunner {
  return (kase, request, onEvent) => {
    let cancelled = false;
    let scheduled: ScheduledRun | undefined;
    const result = (async (): Promise<ProposeSummary> => {
      const caseFile = writeCaseFile('prelabel', kase.sequences, opts.channels);
      try {
        const engine = await opts.engine();
        const plan = await engine.prepare(caseFile, kase.root);
        if (cancelled) throw new QuorumError('cancelled', 'cancelled');
        const whole: ProposeRequest = { ...request, caseFile, caseName: kase.root };
        const nz = caseFile.channels[opts.channels[0]]?.dims[2] ?? 0;
        const [a, b] = request.slices ?? [0, nz - 1];
        const inRange = plan.nativeSlices.filter((k) => k >= a && k <= b);
        // Another slice axis, nothing to propose or a range the engine refuses: one request, as
        // the CLI sends it (same summary or error).
        const cut = plan.sliceAxis === 2 && inRange.length > 0 && a >= 0 && b < nz && a <= b;
        const {
          batches,
          starts,
          perBatch: per,
        } = cut
          ? sliceBatches(whole, inRange, opts.batchImages)
          : { batches: [whole], starts: [], perBatch: 1 };
        const t0 = performance.now();
        const agreement = new Map<number, AgreementSums>();
        scheduled = opts.scheduler.submit(opts.owner, batches, (e, batch) => {
          if (!cut || e.type === 'slice') {
            if (e.type === 'slice') agreement.set(e.result.k, e.result.agreement);
            onEvent(e);
          } else if (e.type === 'progress') {
            // Progress over the case, as one request reports it.
            const done = starts[batch] + e.done;
            const fraction =
              (done + (e.step / e.steps) * Math.min(per, inRange.length - done)) / inRange.length;
            const elapsed = (performance.now() - t0) / 1000;
            onEvent({
              ...e,
              done,
              total: inRange.length,
              etaSeconds: fraction > 0 ? (elapsed / fraction) * (1 - fraction) : 0,
            });
          }
        });
        if (cancelled) scheduled.cancel();
        const summaries = await scheduled.result;
        if (!cut) return summaries[0];
        // One summary for the case, as the engine gives for the whole range.
        const wanted = new Set(inRange);
        const skipped: number[] = [];
        for (let k = a; k <= b; k++) if (!wanted.has(k)) skipped.push(k);
        const total = summaries.reduce((s, x) => s + x.seconds.total, 0);
        const last = summaries[summaries.length - 1];
        return {
          ...last,
          slices: summaries.flatMap((s) => s.slices),
          skipped,
          seconds: {
            total,
            perSlice: inRange.length ? total / inRange.length : 0,
            model: summaries.reduce((s, x) => s + x.seconds.model, 0),
          },
          confidence: caseConfidence(inRange.map((k) => agreement.get(k)!)),
        };
      } finally {
        removeCaseFile(caseFile);
      }
    })();
    return {
      result,
      cancel: () => {
        cancelled = true;
        scheduled?.cancel();
      },
    };
  };
}
