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

/** What a named device needs, said when it cannot be loaded. */
const DEVICE_HELP: Partial<Record<Device, string>> = {
  cuda: 'The CUDA execution provider needs an NVIDIA GPU with its driver, CUDA 12 and cuDNN 9 libraries on the library path. ',
  webgpu: 'WebGPU needs a GPU adapter the platform exposes (Vulkan/Metal/D3D12). ',
  dml: 'DirectML is available on Windows only. ',
  coreml: 'CoreML is available on macOS only. ',
};

/** The first line of onnxruntime's error, without its internal function names. */
function providerProblem(e: unknown): string {
  const line = String((e as Error)?.message ?? e).split('\n')[0];
  return line.replace(/^[A-Za-z_]+: /, '').slice(0, 160);
}

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
  // 'auto' tries the platform's accelerators and falls back quietly (one short note); a device
  // asked for by name is tried alone and fails loudly: a user who wrote --device cuda must not get
  // a CPU run (10-50x slower) with the reason buried in a log.
  const candidates: Device[] = device === 'auto' ? (AUTO_ORDER[process.platform] ?? ['cpu']) : [device];
  const failures: string[] = [];
  for (const ep of candidates) {
    try {
      const session = await ort.InferenceSession.create(file, {
        executionProviders: [ep],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      });
      const note = failures.length ? `auto: ${failures.join('; ')}; using ${ep}` : undefined;
      return { manifest, session, device: ep, note };
    } catch (e) {
      failures.push(`${ep} not available (${providerProblem(e)})`);
    }
  }
  if (device !== 'auto')
    throw new QuorumError(
      'model',
      `--device ${device}: ${failures.join('; ')}. ${DEVICE_HELP[device] ?? ''}Use --device auto (falls back to the CPU) or --device cpu.`,
    );
  throw new QuorumError('model', `no execution provider could load the model: ${failures.join('; ')}`, file);
}
