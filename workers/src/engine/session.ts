import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { QuorumError } from '../../../core/src/errors.ts';
import { DEVICES, type Device, type ExecutionProvider } from '../../../core/src/lists.ts';
import { type ModelManifest, networkFiles } from '../../../core/src/manifest.ts';
import { readManifest } from '../../../core/src/node/model-manifest.ts';
import { oneOf } from '../../../core/src/registry.ts';
import { autoProviders, PROVIDERS } from './providers.ts';

/** Tests and tools read a manifest as the engine does. */
export { readManifest };

/** The first line of onnxruntime's error, without its internal function names. */
function providerProblem(e: unknown): string {
  const line = String((e as Error)?.message ?? e).split('\n')[0];
  return line.replace(/^[A-Za-z_]+: /, '').slice(0, 160);
}

export interface LoadedModel {
  manifest: ModelManifest;
  /** One session per ONNX file (core/src/manifest.ts networkFiles), in manifest order. */
  sessions: ort.InferenceSession[];
  device: string;
  note?: string;
}

export async function loadModel(modelDir: string, device: Device = 'auto'): Promise<LoadedModel> {
  const manifest = readManifest(modelDir);
  const files = networkFiles(manifest).map((f) => join(modelDir, f));
  // a missing file is the model folder's problem, not the execution provider's
  for (const file of files)
    if (!existsSync(file)) throw new QuorumError('model', 'the model weights file is missing', file);
  const threads = Math.max(1, cpus().length);
  // 'auto' tries the platform's accelerators and falls back quietly (one short note); a device
  // asked for by name is tried alone and fails loudly: a user who wrote --device cuda must not get
  // a CPU run (10-50x slower) with the reason buried in a log.
  oneOf('device', DEVICES, device);
  const candidates: ExecutionProvider[] = device === 'auto' ? autoProviders() : [device];
  const failures: string[] = [];
  for (const ep of candidates) {
    try {
      const sessions: ort.InferenceSession[] = [];
      try {
        for (const file of files)
          sessions.push(await ort.InferenceSession.create(file, PROVIDERS.get(ep).sessionOptions(threads)));
      } catch (e) {
        await Promise.all(sessions.map((s) => s.release()));
        throw e;
      }
      const note = failures.length ? `auto: ${failures.join('; ')}; using ${ep}` : undefined;
      return { manifest, sessions, device: ep, note };
    } catch (e) {
      failures.push(`${ep} not available (${providerProblem(e)})`);
    }
  }
  if (device !== 'auto')
    throw new QuorumError(
      'model',
      `--device ${device}: ${failures.join('; ')}. ${PROVIDERS.get(device).help ?? ''}Use --device auto (falls back to the CPU) or --device cpu.`,
    );
  throw new QuorumError(
    'model',
    `no execution provider could load the model: ${failures.join('; ')}`,
    files[0],
  );
}
