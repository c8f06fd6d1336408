import { randomUUID } from 'node:crypto';
import type { CaseInfo, OpenCaseInput, ProposalEvent, ProposeParams } from '../../../core/src/api.ts';
import { isFinalEvent } from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import type { ModelManifest } from '../../../core/src/manifest.ts';
import { toWireError } from '../../../core/src/rpc/errors.ts';
import { resolveSampling } from '../../../core/src/sampling.ts';
import type { SequenceName, Volume } from '../../../core/src/volume.ts';
import type { EngineClient } from '../client.ts';
import { ProposalMaps } from '../exports/proposal-maps.ts';
import type { ChannelVolume, ProposeRequest } from '../protocol.ts';
import type { LoadedCase } from './cases.ts';

/** A case open in the host. */
export interface OpenCase {
  info: CaseInfo;
  data: LoadedCase;
  input: OpenCaseInput;
  /** Uncertainty (std) of every slice proposed so far, volume grid; allocated at the first result. */
  uncertainty?: Float32Array;
  /** Probability (mean) and member masks of every slice proposed so far, for their exports. */
  maps?: ProposalMaps;
  proposed: Set<number>;
}

export interface ProposalContext {
  /** The model's input sequences. */
  channels: SequenceName[];
  manifest?: ModelManifest;
  engine: () => Promise<EngineClient>;
}

export interface ProposalRun {
  runId: string;
  /** Ends the run at once with 'cancelled'; the engine stops at its next step. */
  cancel(): void;
  /** Settles once the run's final event has been emitted. */
  finished: Promise<void>;
}

/**
 * One proposal run on an open case (QuorumApi.propose): the request to the engine, its events
 * as ProposalEvents on the case's grid, and the host's copy of the uncertainty map for exports.
 */
export async function startProposal(
  c: OpenCase,
  params: ProposeParams,
  ctx: ProposalContext,
  onEvent: (e: ProposalEvent) => void,
): Promise<ProposalRun> {
  if (c.info.missingForModel.length)
    throw new QuorumError(
      'missing-sequence',
      `the model needs ${c.info.missingForModel.join(', ')}`,
      c.info.root,
    );
  const nz = c.info.geometry.dims[2];
  let range: [number, number] | undefined;
  const sel = params.slices;
  if (sel === 'current') {
    if (params.currentSlice === undefined)
      throw new QuorumError('bad-argument', "slices 'current' needs currentSlice");
    range = [params.currentSlice, params.currentSlice];
  } else if (Array.isArray(sel)) range = [Math.min(sel[0], sel[1]), Math.max(sel[0], sel[1])];
  else if (sel !== 'all') range = [Math.min(...sel.slices), Math.max(...sel.slices)];
  if (range && (range[0] < 0 || range[1] >= nz || !Number.isInteger(range[0]) || !Number.isInteger(range[1])))
    throw new QuorumError('bad-argument', `slices ${range.join('-')} are outside 0-${nz - 1}`);
  const volumes: Partial<Record<SequenceName, ChannelVolume>> = {};
  for (const s of ctx.channels) {
    const v = c.data.sequences[s] as Volume;
    volumes[s] = {
      dims: v.dims,
      spacing: v.spacing,
      origin: v.origin,
      direction: v.direction,
      data: v.data instanceof Float32Array ? v.data : Float32Array.from(v.data),
    };
  }
  const request: ProposeRequest = {
    volumes,
    caseName: c.info.name,
    slices: range,
    ...resolveSampling(ctx.manifest, params),
    seed: params.seed,
    // Always: the host keeps the members for the member-mask export; the renderer gets them when asked.
    keepMembers: true,
  };
  const runId = randomUUID();
  const [w, h] = [c.info.geometry.dims[0], c.info.geometry.dims[1]];
  const engine = await ctx.engine();
  const t0 = Date.now();
  const wanted = sel !== 'current' && !Array.isArray(sel) && sel !== 'all' ? new Set(sel.slices) : undefined;
  let started = false;
  const delivered: number[] = [];
  const requested = range
    ? Array.from({ length: range[1] - range[0] + 1 }, (_, i) => range[0] + i).filter(
        (k) => !wanted || wanted.has(k),
      )
    : Array.from({ length: nz }, (_, i) => i);
  // Cancel answers at once: the engine stops at its next step (a second or more on a busy CPU
  // with a big batch), but the user need not wait for it; what it sends after that is dropped.
  let ended = false;
  const emit = (ev: ProposalEvent) => {
    if (ended) return;
    if (isFinalEvent(ev)) ended = true;
    onEvent(ev);
  };
  const run = engine.propose(request, (e) => {
    if (ended) return;
    if (e.type === 'progress') {
      if (!started) {
        started = true;
        emit({
          type: 'started',
          runId,
          slices: requested,
          members: request.members ?? 0,
          steps: request.steps ?? 0,
        });
      }
      emit({
        type: 'progress',
        runId,
        slice: e.slice,
        step: e.step,
        of: e.steps,
        slicesDone: e.done,
        slicesTotal: e.total,
        etaSeconds: e.etaSeconds,
      });
    } else if (e.type === 'slice') {
      const r = e.result;
      if (wanted && !wanted.has(r.k)) return;
      delivered.push(r.k);
      // Kept host-side so an export has the uncertainty map even if the renderer sends none.
      c.uncertainty ??= new Float32Array(w * h * nz);
      c.uncertainty.set(r.std, r.k * w * h);
      c.proposed.add(r.k);
      c.maps ??= new ProposalMaps(c.info.geometry.dims, { maskAndStd: false });
      c.maps.add(r);
      // The engine's result is the API's, less the case sums the CLI keeps, and less the member
      // masks unless the viewer asked for them.
      const { agreement: _agreement, lesionAreaMm2: _lesion, members, ...rest } = r;
      const result = params.includeMembers ? { ...rest, members } : rest;
      emit({ type: 'slice', runId, result });
    }
  });
  const finished = run.result.then(
    (summary) => emit({ type: 'done', runId, slices: summary.slices, seconds: (Date.now() - t0) / 1000 }),
    (err: unknown) => {
      const { code, message } = toWireError(err);
      if (code === 'cancelled') emit({ type: 'cancelled', runId, slicesDone: delivered });
      else emit({ type: 'error', runId, code, message });
    },
  );
  const cancel = () => {
    run.cancel();
    emit({ type: 'cancelled', runId, slicesDone: [...delivered] });
  };
  return { runId, cancel, finished };
}
