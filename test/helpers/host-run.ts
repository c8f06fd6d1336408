import type { ProposalEvent, ProposeParams } from '../../core/src/api.ts';
import type { QuorumService } from '../../workers/src/host/service.ts';

/**
 * One proposal run through the host service, its events collected until the final one (done,
 * cancelled or error). `stopAfter`: cancel the run once that many slices have streamed.
 */
export function proposeEvents(svc: QuorumService, params: ProposeParams, stopAfter?: number) {
  const events: ProposalEvent[] = [];
  return new Promise<ProposalEvent[]>((done, fail) => {
    let slices = 0;
    svc
      .propose(params, (e) => {
        events.push(e);
        if (e.type === 'slice' && ++slices === stopAfter) void svc.cancel(e.runId);
        if (e.type === 'done' || e.type === 'cancelled' || e.type === 'error') done(events);
      })
      .catch(fail);
  });
}
