/**
 * The engine process: owns the onnxruntime-node session and runs proposals, one at a time,
 * streaming results to its host over the RPC layer (core/src/rpc) on Node IPC or, in the desktop
 * app, Electron's utilityProcess parentPort (./transport.ts); also runs the app's rigid
 * registrations (elastix), so that the host never does. Started by workers/src/client.ts;
 * argv: <modelDir> <device>.
 */
import { readFileSync } from 'node:fs';
import { QuorumError } from '../../../core/src/errors.ts';
import { RpcServer, type StreamSink } from '../../../core/src/rpc/channel.ts';
import { toWireError } from '../../../core/src/rpc/errors.ts';
import type { Volume } from '../../../core/src/volume.ts';
import {
  type CaseFileRef,
  type CasePlan,
  type ChannelVolume,
  type Device,
  ENGINE_METHODS,
  type EngineEvent,
  type EngineInfo,
  type EngineStats,
  isFinalEngineEvent,
  type ProposeRequest,
  type RegisterRequest,
  type RegisterResult,
} from '../protocol.ts';
import { type PreparedCase, prepareCase, propose } from './propose.ts';
import { type LoadedModel, loadModel } from './session.ts';
import { parentTransport } from './transport.ts';

const [modelDir, device = 'auto'] = process.argv.slice(2);

interface Run {
  request: ProposeRequest;
  sink: StreamSink<EngineEvent>;
  cancelled: boolean;
}
const queue: Run[] = [];
let busy = false;

const model = loadModel(modelDir, device as Device).catch((e: Error) => {
  console.error(`quorum engine: ${e.message}`);
  process.exit(3);
});

/**
 * Cases read from the host's case files, least recently used first; bounded, so the engine's
 * memory stays flat however many cases and runs go through it (two 4-sequence cases: ~150 MB,
 * plus up to SAMPLE_CACHE_BYTES each of samples kept for later runs: sample-cache.ts).
 */
const CACHED_CASES = 2;
const cases = new Map<string, PreparedCase>();

/** A host case file's channels, each its own copy (the read buffer goes, only the voxels stay). */
function readChannels(ref: CaseFileRef, caseName: string): Partial<Record<string, ChannelVolume>> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(ref.path);
  } catch (e) {
    throw new QuorumError('not-found', `the host's case file is gone (${(e as Error).message})`, caseName);
  }
  const volumes: Partial<Record<string, ChannelVolume>> = {};
  for (const [seq, g] of Object.entries(ref.channels)) {
    if (!g) continue;
    if (g.offset % 4 || g.offset + g.length * 4 > bytes.byteLength)
      throw new QuorumError('corrupt', `the host's case file is shorter than its ${seq} channel`, caseName);
    const data = new Float32Array(g.length);
    new Uint8Array(data.buffer).set(bytes.subarray(g.offset, g.offset + g.length * 4));
    volumes[seq] = { dims: g.dims, spacing: g.spacing, origin: g.origin, direction: g.direction, data };
  }
  return volumes;
}

function cachedCase(m: LoadedModel, ref: CaseFileRef, caseName: string): PreparedCase {
  const hit = cases.get(ref.key);
  if (hit) {
    cases.delete(ref.key);
    cases.set(ref.key, hit);
    return hit;
  }
  const prepared = prepareCase(m, readChannels(ref, caseName), caseName);
  cases.set(ref.key, prepared);
  while (cases.size > CACHED_CASES) cases.delete(cases.keys().next().value as string);
  return prepared;
}

/**
 * Rigid registration for the host (ENGINE_METHODS.register): elastix runs here, one at a time, so
 * the host's event loop, which serves the UI, never does. While it runs (seconds per sequence, one
 * WebAssembly call) this process answers nothing else, proposals' cancels included; the host runs
 * it in its own scheduler turn, and cancels it by ending this process (EngineClient.register).
 */
let registering: Promise<unknown> = Promise.resolve();
function register(req: RegisterRequest): Promise<RegisterResult> {
  const run = registering.then(async (): Promise<RegisterResult> => {
    const volumes = readChannels(req.file, req.name);
    const [fixed, moving] = [req.fixed, req.moving].map((s) => {
      const v = volumes[s];
      if (!v) throw new QuorumError('corrupt', `the host's registration file has no ${s}`, req.name);
      const source = { path: `${req.name} ${s}`, format: 'generated', datatype: 'float32', sequence: s };
      return { ...v, source } as Volume;
    });
    const { registerRigid } = await import('../../../core/src/node/register.ts');
    const r = await registerRigid(fixed, moving);
    return {
      data: r.volume.data as Float32Array,
      rotationDeg: r.rotationDeg,
      translationMm: r.translationMm,
      parameters: r.parameters,
      seconds: r.seconds,
      pid: process.pid,
    };
  });
  registering = run.catch(() => {});
  return run;
}

async function drain() {
  if (busy) return;
  busy = true;
  const m = await model;
  while (queue.length) {
    const run = queue.shift()!;
    const { sink } = run;
    try {
      const prepared = run.request.caseFile
        ? cachedCase(m, run.request.caseFile, run.request.caseName)
        : undefined;
      if (run.cancelled) {
        sink.emit({ type: 'cancelled' });
        continue;
      }
      const r = await propose(
        m,
        run.request,
        {
          isCancelled: () => run.cancelled,
          progress: (done, total, slice, step, steps, etaSeconds) =>
            sink.emit({ type: 'progress', done, total, slice, step, steps, etaSeconds }),
          slice: (result) => sink.emit({ type: 'slice', result }),
        },
        prepared,
      );
      sink.emit(r === 'cancelled' ? { type: 'cancelled' } : { type: 'done', summary: r });
    } catch (e) {
      const err = toWireError(e, 'model');
      // Not a user-facing error: the stack says where the engine broke.
      if (!(e instanceof QuorumError)) err.message = (e as Error)?.stack ?? err.message;
      sink.emit({ type: 'error', code: err.code, message: err.message });
    }
  }
  busy = false;
}

new RpcServer(
  // Node IPC, or Electron's utilityProcess parentPort in the desktop app
  { ...parentTransport() },
  {
    calls: {
      [ENGINE_METHODS.info]: async (): Promise<EngineInfo> => {
        const m = await model;
        return {
          device: m.device,
          note: m.note,
          model: { name: m.manifest.name, version: m.manifest.version },
        };
      },
      [ENGINE_METHODS.prepare]: async (ref: CaseFileRef, caseName: string): Promise<CasePlan> => {
        const { frame } = cachedCase(await model, ref, caseName);
        return { sliceAxis: frame.sliceAxis, nativeSlices: [...frame.nativeSlices] };
      },
      [ENGINE_METHODS.register]: (req: RegisterRequest) => register(req),
      [ENGINE_METHODS.stats]: async (): Promise<EngineStats> => {
        const u = process.memoryUsage();
        return {
          rssBytes: u.rss,
          heapUsedBytes: u.heapUsed,
          externalBytes: u.external,
          cachedCases: cases.size,
        };
      },
    },
    streams: {
      [ENGINE_METHODS.propose]: ([request]: [ProposeRequest], sink: StreamSink<EngineEvent>) => {
        const run: Run = { request, sink, cancelled: false };
        // Stops at the run's next step (or before it starts); the run then ends with 'cancelled'.
        sink.onCancel(() => {
          run.cancelled = true;
        });
        queue.push(run);
        void drain();
        return null;
      },
    },
    isFinal: (e) => isFinalEngineEvent(e as EngineEvent),
  },
);
process.on('disconnect', () => process.exit(0));
