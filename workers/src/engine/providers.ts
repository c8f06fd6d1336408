import type * as ort from 'onnxruntime-node';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../../../core/src/lists.ts';
import { Registry } from '../../../core/src/registry.ts';

/**
 * onnxruntime execution providers by name: how a session is built on each, when 'auto' tries it,
 * and what it needs when it cannot be loaded. A new provider: its name in EXECUTION_PROVIDERS
 * (core/src/lists.ts) and one entry here.
 */
export interface ProviderEntry {
  /** Platforms (process.platform) where 'auto' tries it, and in which place (lower first); CPU is last everywhere. */
  auto?: Partial<Record<NodeJS.Platform, number>>;
  /** Said when asked for by name and it cannot be loaded. */
  help?: string;
  sessionOptions(threads: number): ort.InferenceSession.SessionOptions;
}

const options =
  (ep: ExecutionProvider) =>
  (threads: number): ort.InferenceSession.SessionOptions => ({
    executionProviders: [ep],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });

/**
 * 'auto' tries CUDA where its libraries are installed, DirectML on Windows, CoreML on macOS; CPU
 * always works. WebGPU is used only when asked for: on a headless or GPU-less workstation its
 * adapter probe can be slow or fail noisily.
 */
export const PROVIDERS = new Registry<ExecutionProvider, ProviderEntry>('device', {
  cpu: {
    // Idle intra-op threads sleep instead of spinning: on this 2-core CPU shared with other work
    // (as a workstation running the viewer is) a forward took 21-29% less (bench/ort-options,
    // README "Speed"); the results are the same bits.
    sessionOptions: (threads) => ({
      ...options('cpu')(threads),
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    }),
  },
  webgpu: {
    help: 'WebGPU needs a GPU adapter the platform exposes (Vulkan/Metal/D3D12). ',
    sessionOptions: options('webgpu'),
  },
  cuda: {
    auto: { linux: 0, win32: 0 },
    help: 'The CUDA execution provider needs an NVIDIA GPU with its driver, CUDA 12 and cuDNN 9 libraries on the library path. ',
    sessionOptions: options('cuda'),
  },
  dml: {
    auto: { win32: 1 },
    help: 'DirectML is available on Windows only. ',
    sessionOptions: options('dml'),
  },
  coreml: {
    auto: { darwin: 0 },
    help: 'CoreML is available on macOS only. ',
    sessionOptions: options('coreml'),
  },
});

/** The providers 'auto' tries on `platform`, in order, ending with the CPU. */
export function autoProviders(platform: NodeJS.Platform = process.platform): ExecutionProvider[] {
  const tried = EXECUTION_PROVIDERS.filter((ep) => PROVIDERS.get(ep).auto?.[platform] !== undefined);
  tried.sort((a, b) => (PROVIDERS.get(a).auto?.[platform] ?? 0) - (PROVIDERS.get(b).auto?.[platform] ?? 0));
  return [...tried, 'cpu'];
}
