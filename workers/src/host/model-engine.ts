import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelInfo, ProposeParams } from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { DEVICES } from '../../../core/src/lists.ts';
import { type ModelManifest, modelCard, networkFiles } from '../../../core/src/manifest.ts';
import { lowConfidenceThreshold } from '../../../core/src/metrics.ts';
import { readManifest } from '../../../core/src/node/model-manifest.ts';
import { resolveSampling } from '../../../core/src/sampling.ts';
import type { SequenceName } from '../../../core/src/volume.ts';
import type { EngineClient } from '../client.ts';
import type { EngineStats } from '../protocol.ts';
import { DEFAULT_MODEL_DIR, importSource } from './paths.ts';

/**
 * The model's manifest (read once, at start) and the engine process that runs it, started lazily
 * at the first proposal or registration (or warmed in the background), restarted after a failed start.
 */
export class ModelEngine {
  readonly manifest?: ModelManifest;
  /** Why no proposal can run (no usable manifest, a missing weights file); undefined when it can. */
  readonly manifestError?: string;
  private engine?: Promise<EngineClient>;

  constructor(
    private readonly opts: {
      modelDir?: string;
      device?: ProposeParams['device'];
      /** Engine factory; default D's EngineClient (spawned lazily at the first proposal). */
      startEngine?: () => Promise<EngineClient>;
    },
  ) {
    const dir = opts.modelDir ?? DEFAULT_MODEL_DIR;
    try {
      // checked as the engine checks it, so that a wrong value is said at start (in the model's
      // info) rather than at the first proposal
      this.manifest = readManifest(dir);
      const missing = networkFiles(this.manifest).filter((f) => !existsSync(join(dir, f)));
      if (missing.length)
        this.manifestError = `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing in ${dir}`;
    } catch (e) {
      // readManifest's errors name the file
      this.manifestError = `no usable model manifest: ${(e as Error).message}`;
    }
  }

  get channels(): SequenceName[] {
    return this.manifest?.channels ?? [];
  }

  info(): ModelInfo {
    const m = this.manifest;
    return {
      available: !!m && !this.manifestError,
      message: this.manifestError,
      name: m?.name,
      version: m?.version,
      description: m?.description,
      channels: m?.channels ?? [],
      inputSize: m?.preprocess.inputSize,
      recommended: resolveSampling(m),
      devices: [...DEVICES],
      prompts: !!m?.prompts,
      card: modelCard(m?.card),
      lowConfidenceBelow: m ? lowConfidenceThreshold(m) : undefined,
      licence: m?.training?.licence,
    };
  }

  client(): Promise<EngineClient> {
    if (!this.engine) {
      const start =
        this.opts.startEngine ??
        (async () => {
          // By path from the app root, so the Electron bundle loads the engine client from source.
          const { EngineClient } = await importSource<typeof import('../client.ts')>('workers/src/client.ts');
          return EngineClient.start({ device: this.opts.device, modelDir: this.opts.modelDir });
        });
      this.engine = start();
      this.engine.catch(() => {
        this.engine = undefined;
      });
    }
    return this.engine;
  }

  /** The engine, or why it cannot start (no usable model). */
  forModel(): Promise<EngineClient> {
    if (this.manifestError) return Promise.reject(new QuorumError('model', this.manifestError));
    return this.client();
  }

  /** Starts the engine in the background so the first proposal does not wait for model loading. */
  warm(): void {
    if (!this.manifestError) this.client().catch(() => {});
  }

  /** The engine process's memory and case cache (diagnostics, the bench); undefined before it starts. */
  async stats(): Promise<EngineStats | undefined> {
    const e = await this.engine?.catch(() => undefined);
    return e?.stats();
  }

  async close(): Promise<void> {
    const e = this.engine;
    this.engine = undefined;
    if (e) await (await e.catch(() => undefined))?.close();
  }
}
