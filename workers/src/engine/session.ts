import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { QuorumError } from '../../../core/src/errors.ts';
import type { ModelManifest } from '../../../core/src/manifest.ts';
import type { Device } from '../protocol.ts';

/**
 * Execution providers tried for 'auto', in order. CUDA where its libraries are installed,
 * DirectML on Windows, CoreML on macOS; CPU always works. WebGPU is used only when asked for:
 * on a headless or GPU-less workstation its adapter probe can be slow or fail noisily.
 */
const AUTO_ORDER: Record<string, Device[]> = {
  linux: ['cuda', 'cpu'],
  win32: ['cuda', 'dml', 'cpu'],
  darwin: ['coreml', 'cpu'],
};

export interface LoadedModel {
  manifest: ModelManifest;
  session: ort.InferenceSession;
  device: string;
  note?: string;
}

export function readManifest(modelDir: string): ModelManifest {
  const path = join(modelDir, 'manifest.json');
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ModelManifest;
  } catch (e) {
    throw new QuorumError('model', `cannot read the model manifest (${(e as Error).message})`, path);
  }
}

export async function loadModel(modelDir: string, device: Device = 'auto'): Promise<LoadedModel> {
  const manifest = readManifest(modelDir);
  const file = join(modelDir, manifest.file);
  const threads = Math.max(1, cpus().length);
  const candidates: Device[] =
    device === 'auto'
      ? (AUTO_ORDER[process.platform] ?? ['cpu'])
      : [device, ...(device === 'cpu' ? [] : (['cpu'] as Device[]))];
  const failures: string[] = [];
  for (const ep of candidates) {
    try {
      const session = await ort.InferenceSession.create(file, {
        executionProviders: [ep],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      });
      const note = failures.length ? `fell back to ${ep}: ${failures.join('; ')}` : undefined;
      return { manifest, session, device: ep, note };
    } catch (e) {
      failures.push(
        `${ep} unavailable (${String((e as Error).message)
          .split('\n')[0]
          .slice(0, 160)})`,
      );
    }
  }
  throw new QuorumError('model', `no execution provider could load the model: ${failures.join('; ')}`, file);
}
