import * as ort from 'onnxruntime-node';
import { createSampler } from '../../../core/src/diffusion/samplers.ts';
import { Schedule } from '../../../core/src/diffusion/schedule.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import {
  type AgreementSums,
  caseConfidence,
  lowConfidenceThreshold,
  sliceAgreement,
} from '../../../core/src/metrics.ts';
import { type ModelFrame, modelFrame } from '../../../core/src/model-frame.ts';
import { Rng } from '../../../core/src/rng.ts';
import { resolveSampling } from '../../../core/src/sampling.ts';
import type { SequenceName } from '../../../core/src/volume.ts';
import type { ChannelVolume, EngineSliceResult, ProposeRequest, ProposeSummary } from '../protocol.ts';
import { planeResult, VolumeAssembly } from './assemble.ts';
import type { LoadedModel } from './session.ts';

/** Forward passes per ONNX call: members x slices batched together (measured sweet spot on 2 cores). */
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
}

export function prepareCase(
  model: LoadedModel,
  volumes: Partial<Record<SequenceName, ChannelVolume>>,
  caseName: string,
): PreparedCase {
  return { volumes, frame: modelFrame(volumes, model.manifest, caseName) };
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
  const { manifest, session } = model;
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

  const schedule = Schedule.fromSpec(manifest.schedule);
  const makeSampler = () => createSampler(samplerName, schedule, manifest.prediction, { eta, steps });
  const [H, W] = manifest.preprocess.inputSize;
  const C = manifest.channels.length;
  const HW = H * W;
  const perBatch = Math.max(1, Math.floor(BATCH_IMAGES / members));
  const pixelArea = ref.spacing[0] * ref.spacing[1];
  let modelSeconds = 0;
  let done = 0;
  const agreement: AgreementSums[] = [];
  const total = modelSlices.length;

  for (let s0 = 0; s0 < modelSlices.length; s0 += perBatch) {
    const batch = modelSlices.slice(s0, s0 + perBatch);
    const B = batch.length * members;
    const image = new Float32Array(B * C * HW);
    for (const [bi, k] of batch.entries()) {
      const inp = frame.input(k);
      for (let m = 0; m < members; m++) image.set(inp, (bi * members + m) * C * HW);
    }
    // One RNG per slice, seeded by (seed, k): a slice's members do not depend on the batching.
    const rngs = batch.map((k) => new Rng((seed * 100003 + k * 7919 + 1) >>> 0));
    const drawNoise = (out: Float32Array) => {
      for (const [bi, rng] of rngs.entries())
        rng.fillGaussian(out.subarray(bi * members * HW, (bi + 1) * members * HW));
      return out;
    };
    let x: Float32Array = drawNoise(new Float32Array(B * HW));
    let next: Float32Array = new Float32Array(B * HW);
    const noise = new Float32Array(B * HW);
    const sampler = makeSampler();
    const ts = sampler.timesteps;
    const imageTensor = new ort.Tensor('float32', image, [B, C, H, W]);
    for (let i = 0; i < ts.length; i++) {
      if (hooks.isCancelled()) return 'cancelled';
      const tm = performance.now();
      const out = await session.run({
        image: imageTensor,
        x_t: new ort.Tensor('float32', x, [B, 1, H, W]),
        t: new ort.Tensor('float32', new Float32Array(B).fill(ts[i]), [B]),
      });
      modelSeconds += (performance.now() - tm) / 1000;
      const pred = out.pred.data as Float32Array;
      sampler.step(i, pred, x, sampler.needsNoise(i) ? drawNoise(noise) : undefined, next);
      [x, next] = [next, x];
      const elapsed = (performance.now() - t0) / 1000;
      const fraction = (done + (batch.length * (i + 1)) / ts.length) / total;
      hooks.progress(
        done,
        total,
        batch[0],
        i + 1,
        ts.length,
        fraction > 0 ? (elapsed / fraction) * (1 - fraction) : 0,
      );
    }
    for (const [bi, k] of batch.entries()) {
      const result = sliceResult(
        x.subarray(bi * members * HW, (bi + 1) * members * HW),
        k,
        members,
        H,
        W,
        frame,
        pixelArea,
        req.keepMembers || !!assembly,
      );
      done++;
      if (assembly) {
        assembly.add(k, result);
        continue;
      }
      agreement.push(result.agreement);
      hooks.slice(result);
    }
  }
  if (assembly)
    for (const k of slices) {
      if (hooks.isCancelled()) return 'cancelled';
      const result = assembly.axial(k, pixelArea, req.keepMembers);
      agreement.push(result.agreement);
      hooks.slice(result);
    }
  const totalSeconds = (performance.now() - t0) / 1000;
  return {
    slices,
    skipped,
    members,
    steps,
    sampler: samplerName,
    eta,
    seed,
    device: model.device,
    deviceNote: model.note,
    model: { name: manifest.name, version: manifest.version },
    seconds: {
      total: totalSeconds,
      perSlice: slices.length ? totalSeconds / slices.length : 0,
      model: modelSeconds,
    },
    confidence: caseConfidence(agreement),
    confidenceLowBelow: lowConfidenceThreshold(manifest),
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
  const sq = new Float32Array(HW);
  const probs: Float32Array[] = [];
  for (let m = 0; m < members; m++) {
    const p = new Float32Array(HW);
    for (let i = 0; i < HW; i++) {
      const v = (x0[m * HW + i] + 1) / 2;
      p[i] = v < 0 ? 0 : v > 1 ? 1 : v;
      mean[i] += p[i] / members;
      sq[i] += (p[i] * p[i]) / members;
    }
    probs.push(p);
  }
  const stdModel = new Float32Array(HW);
  for (let i = 0; i < HW; i++) stdModel[i] = Math.sqrt(Math.max(0, sq[i] - mean[i] * mean[i]));
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
