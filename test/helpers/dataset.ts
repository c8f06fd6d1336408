import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { WebSocket } from 'ws';
import { type QuorumApi, WS_PATH } from '../../core/src/api.ts';
import { type ByteSocket, connectSocketApi } from '../../core/src/api-socket.ts';
import { startWebHost, type WebHost } from '../../workers/src/host/web.ts';
import { modelWithManifest } from './model-dir.ts';
import { PAT3, PAT4 } from './paths.ts';

/**
 * A dataset folder at `ds`: two real BraTS subjects as symlinks (never copies of the data), and
 * with `broken` a third case whose FLAIR is a truncated copy of a real file. Sorted: broken, pat3, pat4.
 */
export function linkDataset(ds: string, broken: boolean): string {
  mkdirSync(ds);
  symlinkSync(PAT3, join(ds, 'pat3'));
  symlinkSync(PAT4, join(ds, 'pat4'));
  if (broken) {
    mkdirSync(join(ds, 'broken'));
    writeFileSync(
      join(ds, 'broken', 'flair.nii.gz'),
      readFileSync(join(PAT4, 'Flair_subtrMeanDivStd.nii.gz')).subarray(0, 5000),
    );
    copyFileSync(join(PAT4, 'T1c_subtrMeanDivStd.nii.gz'), join(ds, 'broken', 't1c.nii.gz'));
  }
  return ds;
}

/**
 * A model folder at `dir`: the shipped model (its ONNX symlinked, not copied) with the manifest's
 * low-confidence threshold set to `lowBelow`. Returns `dir`.
 */
export function modelWithThreshold(dir: string, lowBelow: number): string {
  return modelWithManifest(dir, (manifest) => {
    manifest.caseConfidence = { kind: 'member-agreement-dice', lowBelow };
  });
}

/** An API socket to a browser-mode host, authenticated with its secret cookie (WebHost.cookie). */
export async function connectApi(host: {
  port: number;
  cookie: string;
}): Promise<{ api: QuorumApi; ws: WebSocket }> {
  const ws = new WebSocket(`ws://127.0.0.1:${host.port}${WS_PATH}`, { headers: { Cookie: host.cookie } });
  const api = await connectSocketApi(ws as unknown as ByteSocket & { readyState: number });
  return { api, ws };
}

/**
 * A real browser-mode host (CPU engine, `batchImages` images per engine batch) for the enclosing
 * describe block, and its API clients; all are closed after the block, then `cleanup` runs.
 */
export function webHostSuite(stateDir: string, batchImages: number, cleanup: () => void) {
  let host: WebHost | undefined;
  const sockets: { close(): void }[] = [];
  beforeAll(async () => {
    host = await startWebHost({ port: 0, stateDir, outDir: stateDir, device: 'cpu', batchImages });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await host?.close();
    cleanup();
  });
  return {
    get host(): WebHost {
      if (!host) throw new Error('the host starts in beforeAll');
      return host;
    },
    async connect() {
      const c = await connectApi(this.host);
      sockets.push(c.ws);
      return c;
    },
  };
}
