import { randomUUID } from 'node:crypto';
import type {
  CaseInfo,
  OpenCaseInput,
  ProposalEvent,
  ProposeParams,
  SliceResult,
} from '../../../core/src/api.ts';
import { isFinalEvent } from '../../../core/src/api.ts';
import type { EdgeRule } from '../../../core/src/contrast-grow.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { finishProposal } from '../../../core/src/finish-proposal.ts';
import { droppedMl, type IslandRule } from '../../../core/src/islands.ts';
import type { ModelManifest } from '../../../core/src/manifest.ts';
import { uncertaintyScore } from '../../../core/src/metrics.ts';
import { checkPrompts } from '../../../core/src/prompts.ts';
import { toWireError } from '../../../core/src/rpc/errors.ts';
import { resolveSampling } from '../../../core/src/sampling.ts';
import { uncertaintyMapOf, uncertaintyRadius } from '../../../core/src/uncertainty-map.ts';
import type { SequenceName } from '../../../core/src/volume.ts';
import type { EngineClient } from '../client.ts';
import { ProposalMaps } from '../exports/proposal-maps.ts';
import type { CaseFileRef, EngineEvent, EngineSliceResult, ProposeRequest } from '../protocol.ts';
import { writeCaseFile } from './case-files.ts';
import type { LoadedCase } from './cases.ts';
import { type EngineScheduler, type ScheduledRun, sliceBatches } from './scheduler.ts';

/** A case open in the host. */
export interface OpenCase {
  info: CaseInfo;
  data: LoadedCase;
  input: OpenCaseInput;
  /**
   * The uncertainty map of every slice proposed so far (what the viewer was sent), volume grid;
   * allocated at the first result. The members' std itself when the model asks for no smoothing.
   */
  uncertainty?: Float32Array;
  /** The members' std of every slice proposed so far (what the map is made from). */
  memberStd?: Float32Array;
  /** The slices `memberStd` holds (a proposal loaded from files has the map only). */
  memberStdSlices?: Set<number>;
  /** Probability (mean) and member masks of every slice proposed so far, for their exports. */
  maps?: ProposalMaps;
  proposed: Set<number>;
  /** The model channels in a private file for the engine (written at the first proposal). */
  caseFile?: CaseFileRef;
  /** The upload folder the case was read from (browser drops), removed with the case. */
  uploadDir?: string;
}

export interface ProposalContext {
  /** The model's input sequences. */
  channels: SequenceName[];
  manifest?: ModelManifest;
  engine: () => Promise<EngineClient>;
  scheduler: EngineScheduler;
  /** The connection that asked (the scheduler takes turns between connections). */
  owner: string;
  batchImages?: number;
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
  c.caseFile ??= writeCaseFile(c.info.id, c.data.sequences, ctx.channels);
  const caseFile = c.caseFile;
  const request: ProposeRequest = {
    caseFile,
    caseName: c.info.name,
    slices: range,
    ...resolveSampling(ctx.manifest, params),
    seed: params.seed,
    // Always: the host keeps the members for the member-mask export; the renderer gets them when asked.
    keepMembers: true,
    ...(params.prompts
      ? { prompts: checkPrompts(params.prompts, c.info.geometry.dims), onlyTouched: true }
      : {}),
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
    if (isFinalEvent(ev)) {
      // what arrived before the end is the user's, with the neighbourhood known by then
      sendReady(true);
      ended = true;
    }
    onEvent(ev);
  };
  // The uncertainty map of a slice (core/src/uncertainty-map.ts) needs the members' std of the
  // slices within `radius` of it. A plain run knows which slices it will deliver, so a slice is
  // held until those of its neighbourhood have arrived (in order, about one batch later); a
  // prompt run's slices go at once (the clicked slice is awaited), their neighbours taken as known
  // then (this run's so far, else the earlier proposal's).
  const sigma = ctx.manifest?.recommended.uncertaintySigmaVoxels ?? 0;
  const radius = uncertaintyRadius(sigma);
  const plane = w * h;
  const pixelArea = c.info.geometry.spacing[0] * c.info.geometry.spacing[1];
  const pending = new Map<number, EngineSliceResult>();
  /** Slices this run will still deliver; undefined: not known (prompt runs) or not yet planned. */
  let expected: Set<number> | undefined;
  const sendReady = (all: boolean) => {
    const ready = [...pending.keys()]
      .filter((k) => {
        if (all || !expected) return true;
        for (let j = k - radius; j <= k + radius; j++) if (expected.has(j)) return false;
        return true;
      })
      .sort((a, b) => a - b);
    const known = c.memberStdSlices;
    if (ready.length && known)
      uncertaintyMapOf(c.memberStd!, c.info.geometry.dims, sigma, ready, c.uncertainty!, (k) => known.has(k));
    for (const k of ready) {
      const r = pending.get(k)!;
      pending.delete(k);
      const std = c.uncertainty!.slice(k * plane, (k + 1) * plane);
      // the score of the map sent ("next most uncertain slice"), as in a proposal's report.json
      sendSlice({ ...r, std, score: uncertaintyScore(std, pixelArea) });
    }
  };
  const sendSlice = (r: EngineSliceResult | SliceResult) => {
    if (!delivered.includes(r.k)) delivered.push(r.k); // a slice sent again (islands) once
    c.proposed.add(r.k);
    // The engine's result is the API's, less the case sums the CLI keeps, and less the member
    // masks unless the viewer asked for them.
    const { agreement: _agreement, lesionAreaMm2: _lesion, members, ...rest } = r as EngineSliceResult;
    const result = params.includeMembers ? { ...rest, members } : rest;
    onEvent({ type: 'slice', runId, result });
  };
  // Slices done in the batches before the current one, and the run's total (progress is per run).
  let doneBefore = 0;
  let batchIndex = -1;
  let total = 0;
  const onEngineEvent = (e: EngineEvent, batch: number) => {
    if (ended) return;
    if (batch !== batchIndex) {
      batchIndex = batch;
      doneBefore = batchStarts[batch] ?? 0;
    }
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
        slicesDone: doneBefore + e.done,
        slicesTotal: total,
        etaSeconds: runEta(doneBefore + e.done + e.step / e.steps),
      });
    } else if (e.type === 'slice') {
      const r = e.result;
      if (wanted && !wanted.has(r.k)) return;
      c.memberStd!.set(r.std, r.k * plane);
      c.memberStdSlices!.add(r.k);
      c.maps ??= new ProposalMaps(c.info.geometry.dims, { maskAndStd: false });
      c.maps.add(r);
      pending.set(r.k, r);
      expected?.delete(r.k);
      sendReady(false);
    }
  };
  const runEta = (doneSlices: number) => {
    const elapsed = (Date.now() - t0) / 1000;
    return doneSlices > 0 ? (elapsed / doneSlices) * Math.max(0, total - doneSlices) : 0;
  };
  const batchStarts: number[] = [];
  let scheduled: ScheduledRun | undefined;
  const finished = (async () => {
    // What the engine would propose (it reads the case file once and caches it), cut in batches.
    const plan = await engine.prepare(caseFile, c.info.name);
    if (ended) throw new QuorumError('cancelled', 'cancelled');
    const [a, b] = range ?? [0, nz - 1];
    const inRange = plan.nativeSlices.filter((k) => k >= a && k <= b);
    total = plan.sliceAxis === 2 ? inRange.length : plan.nativeSlices.length;
    if (!request.prompts) expected = new Set(inRange.filter((k) => !wanted || wanted.has(k)));
    // Kept host-side (allocated before the first slice) so an export has the uncertainty map even
    // if the renderer sends none. Slices without head are certain (std 0) for the map's
    // neighbourhoods, as in quorum propose.
    c.uncertainty ??= new Float32Array(plane * nz);
    c.memberStd ??= new Float32Array(plane * nz);
    c.memberStdSlices ??= new Set();
    const head = new Set(plan.nativeSlices);
    for (let k = a; k <= b; k++) if (!head.has(k)) c.memberStdSlices.add(k);
    let batches: ProposeRequest[] = [];
    if (plan.sliceAxis !== 2 || !inRange.length || request.prompts) {
      // Prompts too: their slices are known only as the engine follows the lesions (one batch).
      // Another slice axis: every model slice crosses every k, so the volume is one batch.
      if (inRange.length) batches.push(request);
      batchStarts.push(0);
    } else {
      const cut = sliceBatches(request, inRange, ctx.batchImages);
      batches = cut.batches;
      batchStarts.push(...cut.starts);
    }
    scheduled = ctx.scheduler.submit(ctx.owner, batches, onEngineEvent);
    const summaries = await scheduled.result;
    if (ended) throw new QuorumError('cancelled', 'cancelled');
    // Every slice sent, so the map is whole: the island rule may run (a run over every slice only).
    sendReady(true);
    const whole = sel === 'all' && !request.prompts && summaries[0];
    const finished = whole
      ? finishCase(
          c,
          params.islands !== 'keep' ? whole.dropIslands : undefined,
          params.edge !== 'keep' ? whole.growEdge : undefined,
          whole.members,
          sendSlice,
        )
      : {};
    return {
      slices: inRange.length && batches.length ? summaries.flatMap((s) => s.slices) : [],
      ...finished,
    };
  })().then(
    (summary) =>
      emit({
        type: 'done',
        runId,
        slices: summary.slices,
        seconds: (Date.now() - t0) / 1000,
        ...(summary.islands ? { islands: summary.islands } : {}),
        ...(summary.edge ? { edge: summary.edge } : {}),
      }),
    (err: unknown) => {
      const { code, message } = toWireError(err);
      if (code === 'cancelled') emit({ type: 'cancelled', runId, slicesDone: delivered });
      else emit({ type: 'error', runId, code, message });
    },
  );
  const cancel = () => {
    scheduled?.cancel();
    if (!ended) sendReady(true);
    emit({ type: 'cancelled', runId, slicesDone: [...delivered] });
  };
  return { runId, cancel, finished };
}

/**
 * The model's whole-volume rules on the case's proposal, in order: small uncertain islands out
 * (core/src/islands.ts), then the edge grown by the scan's FLAIR contrast (core/src/contrast-grow.ts).
 * Each slice either changed goes to `send` again (the renderer replaces the PENDING voxels of a
 * slice with its new mask; what the user accepted stays). -> what each rule did (absent: not run).
 */
function finishCase(
  c: OpenCase,
  islandRule: IslandRule | undefined,
  edgeRule: EdgeRule | undefined,
  memberCount: number,
  send: (r: SliceResult) => void,
): { islands?: { count: number; ml: number }; edge?: { ml: number } } {
  const maps = c.maps;
  const map = c.uncertainty;
  if (!maps || !map || (!islandRule && !edgeRule)) return {};
  const { dims, spacing } = c.info.geometry;
  const plane = dims[0] * dims[1];
  const mask = new Uint8Array(maps.probability.length);
  // the engine's mask: mean > 0.5 (workers/src/engine/assemble.ts)
  for (let i = 0; i < mask.length; i++) mask[i] = maps.probability[i] > 0.5 ? 1 : 0;
  const { dropped, grown, slices } = finishProposal(
    mask,
    maps.probability,
    map,
    c.info.geometry,
    c.data.sequences.flair,
    {
      islands: islandRule,
      edge: edgeRule,
    },
  );
  for (const k of slices) {
    const at = k * plane;
    const std = map.slice(at, at + plane);
    const members = maps.members?.map((m) => m.slice(at, at + plane));
    send({
      k,
      width: dims[0],
      height: dims[1],
      mean: maps.probability.slice(at, at + plane),
      mask: mask.slice(at, at + plane),
      std,
      ...(members ? { members } : {}),
      memberCount,
      score: uncertaintyScore(std, spacing[0] * spacing[1]),
    });
  }
  return {
    ...(dropped ? { islands: { count: dropped.islands.length, ml: droppedMl(dropped) } } : {}),
    ...(grown ? { edge: { ml: grown.ml } } : {}),
  };
}
