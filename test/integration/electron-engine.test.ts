import { fork } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleElectron } from '../../electron/bundle.ts';
import { EngineClient } from '../../workers/src/client.ts';
import { childEngine, type EngineSpawner } from '../../workers/src/engine-process.ts';
import { REPO } from '../helpers/paths.ts';

/**
 * The desktop app starts the engine in Electron's utilityProcess through a bootstrap
 * (electron/dist/engine.js: tsx, argv from QUORUM_ENGINE_ARGS) and an EngineSpawner
 * (electron/engine-process.ts). Without an Electron binary, this runs the same bootstrap under
 * Node's fork: the args arrive, the engine answers through EngineClient's spawner seam. The
 * utilityProcess parentPort side is covered by test/unit/electron-security.test.ts (adapter) and
 * test/browser/electron.test.ts (the real app, where a binary exists).
 */
const bootstrapUnderNode: EngineSpawner = (_script, args) =>
  childEngine(
    fork(join(REPO, 'electron', 'dist', 'engine.js'), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      env: { ...process.env, QUORUM_ENGINE_ARGS: JSON.stringify(args) },
    }),
  );

describe('engine bootstrap for utilityProcess', () => {
  it('passes the model dir and device through QUORUM_ENGINE_ARGS; the engine answers', async () => {
    await bundleElectron();
    const engine = await EngineClient.start({
      device: 'cpu',
      modelDir: join(REPO, 'models', 'quorum-wt-2ch'),
      spawn: bootstrapUnderNode,
    });
    try {
      expect(engine.info?.device).toBe('cpu');
      expect(engine.info?.model.name).toBe('quorum-wt-2ch');
      expect((await engine.stats()).cachedCases).toBe(0);
    } finally {
      await engine.close();
    }
  });

  it('an engine that cannot start says why (its own message), as under fork', async () => {
    const engine = EngineClient.start({
      device: 'cpu',
      modelDir: join(REPO, 'models', 'no-such-model'),
      spawn: bootstrapUnderNode,
    });
    await expect(engine).rejects.toMatchObject({ code: 'model' });
  });
});
