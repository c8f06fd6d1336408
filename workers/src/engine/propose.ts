import { frameContextStride } from '../../../core/src/context-frame.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import {
  type AgreementSums,
  caseConfidence,
  lowConfidenceThreshold,
  sliceAgreement,
} from '../../../core/src/metrics.ts';
import { type ModelFrame, modelFrame } from '../../../core/src/model-frame.ts';
import type { ModelClick } from '../../../core/src/prompts.ts';
import { resolveSampling } from '../../../core/src/sampling.ts';
import type { SequenceName } from '../../../core/src/volume.ts';
import type { ChannelVolume, EngineSliceResult, ProposeRequest, ProposeSummary } from '../protocol.ts';
import { planeResult, VolumeAssembly } from './assemble.ts';
import { promptPlan } from './prompt-run.ts';
import { batchSampler } from './sample-batch.ts';
import { SampleCache } from './sample-cache.ts';
import type { LoadedModel } from './session.ts';

/**
 * Forward passes per ONNX call at the whole frame: members x slices batched together (measured
 * sweet spot on 2 cores); crops batch the same number of pixels.
 */
const BATCH_IMAGES = 40;

export interface ProposeHooks {
  isCancelled(): boolean;
  progress(done: number, total: number, slice: number, step: number, steps: number, etaSeconds: number): void;
  slice(result: EngineSliceResult): void;
}

/** A case's volumes and model frame, built once and reused across requests (engine cache). */
export interface PreparedCase {
  volumes: Partial<Record<SequenceName, ChannelVolume>>;
  frame: ModelFrame;
  /** Slices sampled on this case so far (sample-cache.ts). */
  samples: SampleCache;
}

export function prepareCase(
  model: LoadedModel,
  volumes: Partial<Record<SequenceName, ChannelVolume>>,
  caseName: string,
): PreparedCase {
  return { volumes, frame: modelFrame(volumes, model.manifest, caseName), samples: new SampleCache() };
}

/**
 * Proposes `req.slices` of a case. Each slice's members come from its own RNG seeded by
 * (seed, k), and the model's output is batch-invariant, so a run cut into slice batches (the host
 * scheduler) gives exactly the masks of the whole run.
 */
export async function propose(
  model: LoadedModel,
  req: ProposeRequest,
  hooks: ProposeHooks,
  prepared?: PreparedCase,
): Promise<ProposeSummary | 'cancelled'> {
  const t0 = performance.now();
  const { manifest } = model;
  const { members, sampler: samplerName, steps, eta } = resolveSampling(manifest, req);
  const seed = req.seed ?? 0;

  if (!prepared && !req.volumes)
    throw new QuorumError('bad-argument', 'a propose request needs volumes or a case file', req.caseName);
  const { frame, volumes } = prepared ?? prepareCase(model, req.volumes!, req.caseName);
  const ref = volumes[manifest.channels[0]]!;
  const nz = frame.dims[2];
  const [a, b] = req.slices ?? [0, nz - 1];
  if (!(a >= 0 && b < nz && a <= b))
    throw new QuorumError('bad-argument', `slice range ${a}:${b} is outside 0:${nz - 1}`, req.caseName);
  const wanted = new Set(frame.nativeSlices.filter((k) => k >= a && k <= b));
  const slices = [...wanted].sort((x, y) => x - y);
  const skipped: number[] = [];
  for (let k = a; k <= b; k++) if (!wanted.has(k)) skipped.push(k);
  // A frame along voxel axis 2 streams each native slice k as it is sampled. Any other slice axis
  // (a sagittal- or coronal-ordered file): every model slice crosses every k, so all are sampled,
  // whole volumes assembled, and the k planes sent at the end.
  const assembly = frame.sliceAxis === 2 ? undefined : new VolumeAssembly(frame, members);
  const modelSlices = !assembly ? slices : slices.length ? frame.slices : [];

  const [H, W] = manifest.preprocess.inputSize;
  const pixelArea = ref.spacing[0] * ref.spacing[1];
  const promptRun = req.prompts ? promptPlan(model, frame, req) : undefined;
  let done = 0;
  let total = modelSlices.length;
  const onStep = (batch: number[], i: number, n: number) => {
    const elapsed = (performance.now() - t0) / 1000;
    const fraction = (done + (batch.length * (i + 1)) / n) / total;
    hooks.progress(done, total, batch[0], i + 1, n, fraction > 0 ? (elapsed / fraction) * (1 - fraction) : 0);
  };
  const run = { samplerName, steps, eta, seed, crop: req.crop };
  // the host's cases keep their samples between runs; inline volumes (CLI, tests) only a prompt
  // run's own, for its final pass
  const cache = prepared?.samples ?? (promptRun ? new SampleCache() : undefined);
  const sampler = batchSampler(model, frame, members, run, hooks, onStep, cache);
  // per slice: a clicked slice sent early and again with other clicks counts once
  const agreement = new Map<number, AgreementSums>();
  let clicksFor: (k: number) => ModelClick[] = () => [];
  let runSlices = modelSlices;
  /** The slices a prompt run proposes (the clicked ones sent early among them). */
  let touched = modelSlices;
  /** Slices already sent, with the clicks they were sampled with. */
  const sent = new Map<number, string>();
  const send = (x0: Float32Array, k: number) => {
    const result = sliceResult(x0, k, members, H, W, frame, pixelArea, req.keepMembers || !!assembly);
    done++;
    agreement.set(k, result.agreement);
    hooks.slice(result);
  };
  if (promptRun) {
    // The clicked slices first, with the user's clicks, sent at once: the user waits for them
    // (the Refine goal: a slice in under 2 s). The sampler remembers them, so propagation and
    // the final pass reuse them; a slice whose final clicks differ is sent again.
    // In a file stored along another axis (assembly) a model slice is no native slice: nothing is
    // sent early, every model slice is sampled (those without clicks as an unprompted run samples
    // them) and whole native planes are sent at the end, however few slices the clicks touch.
    const planSlices = assembly ? modelSlices : slices;
    const first = assembly ? [] : [...promptRun.clickedSlices(slices)];
    const x = first.length
      ? await sampler.sample(
          first.map(([k]) => k),
          first.map(([, c]) => c),
        )
      : [];
    if (x === 'cancelled') return 'cancelled';
    for (const [i, [k, c]] of first.entries()) {
      send(x[i], k);
      sent.set(k, JSON.stringify(c));
    }
    // Let the results (about 1 MB each with the member masks) drain to the host before the
    // planning's first batch: its model runs hold this event loop, which writes the IPC pipe,
    // for a second or more (measured: the clicked slice arrived with that batch's first step).
    if (first.length) await new Promise((resolve) => setTimeout(resolve, 50));
    const planned = await promptRun.plan(sampler, planSlices);
    if (planned === 'cancelled') return 'cancelled';
    clicksFor = (k) => planned.get(k) ?? [];
    // the viewer's Refine asks for the slices the prompts touch; the CLI for the whole case
    if (req.onlyTouched && !assembly) runSlices = modelSlices.filter((k) => planned.has(k));
    touched = runSlices;
    runSlices = runSlices.filter((k) => sent.get(k) !== JSON.stringify(clicksFor(k)));
    total = runSlices.length + sent.size;
  }
  for (const batch of sampler.batches(runSlices, clicksFor, BATCH_IMAGES)) {
    const x = await sampler.sample(batch, batch.map(clicksFor));
    if (x === 'cancelled') return 'cancelled';
    for (const [bi, k] of batch.entries()) {
      const result = sliceResult(x[bi], k, members, H, W, frame, pixelArea, req.keepMembers || !!assembly);
      done++;
      if (assembly) {
        assembly.add(k, result);
        continue;
      }
      agreement.set(k, result.agreement);
      hooks.slice(result);
    }
  }
  if (assembly)
    for (const k of slices) {
      if (hooks.isCancelled()) return 'cancelled';
      const result = assembly.axial(k, pixelArea, req.keepMembers);
      agreement.set(k, result.agreement);
      hooks.slice(result);
    }
  const totalSeconds = (performance.now() - t0) / 1000;
  return {
    slices: promptRun && req.onlyTouched && !assembly ? touched : slices,
    skipped,
    members,
    steps,
    sampler: samplerName,
    eta,
    seed,
    crop: sampler.crop,
    frameFraction: sampler.frameFraction,
    contextStride: frameContextStride(frame),
    sampled: sampler.sampled,
    device: model.device,
    deviceNote: model.note,
    model: { name: manifest.name, version: manifest.version },
    seconds: {
      total: totalSeconds,
      perSlice: slices.length ? totalSeconds / slices.length : 0,
      model: sampler.modelSeconds,
    },
    ...(promptRun ? { touched: touched.filter((k) => clicksFor(k).length) } : {}),
    confidence: caseConfidence([...agreement.values()]),
    confidenceLowBelow: lowConfidenceThreshold(manifest),
    uncertaintySigmaVoxels: manifest.recommended.uncertaintySigmaVoxels ?? 0,
    ...(manifest.recommended.dropIslands ? { dropIslands: manifest.recommended.dropIslands } : {}),
    ...(manifest.recommended.growEdge ? { growEdge: manifest.recommended.growEdge } : {}),
  };
}

/**
 * Final x0 of each member (model grid, [-1, 1]) of model slice k -> statistics on its native
 * plane (the volume's in-plane grid when the frame slices along voxel axis 2).
 */
function sliceResult(
  x0: Float32Array,
  k: number,
  members: number,
  H: number,
  W: number,
  frame: ModelFrame,
  pixelArea: number,
  keepMembers?: boolean,
): EngineSliceResult {
  const HW = H * W;
  const mean = new Float32Array(HW);
  const probs: Float32Array[] = [];
  for (let m = 0; m < members; m++) {
    const p = new Float32Array(HW);
    for (let i = 0; i < HW; i++) {
      const v = (x0[m * HW + i] + 1) / 2;
      p[i] = v < 0 ? 0 : v > 1 ? 1 : v;
      mean[i] += p[i] / members;
    }
    probs.push(p);
  }
  // two passes (squared deviations from the mean), not E[p²] − E[p]²: in float32 that difference
  // leaves ~1e-4 of rounding where members agree, so one sample had a non-zero "uncertainty"
  const stdModel = new Float32Array(HW);
  for (const p of probs)
    for (let i = 0; i < HW; i++) stdModel[i] += ((p[i] - mean[i]) * (p[i] - mean[i])) / members;
  for (let i = 0; i < HW; i++) stdModel[i] = Math.sqrt(stdModel[i]);
  // back to the native grid: maps as the frame defines, masks by thresholding the mapped probability
  const meanV = frame.toNative(mean, k);
  const stdV = frame.toNative(stdModel, k);
  const n = meanV.length;
  const result: EngineSliceResult = {
    ...planeResult(k, meanV, stdV, pixelArea, frame, members),
    agreement: sliceAgreement(probs, mean),
  };
  if (keepMembers) {
    result.members = probs.map((p) => {
      const r = frame.toNative(p, k);
      const m = new Uint8Array(n);
      for (let i = 0; i < n; i++) m[i] = r[i] > 0.5 ? 1 : 0;
      return m;
    });
  }
  return result;
}
