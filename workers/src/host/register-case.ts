import { QuorumError, type QuorumErrorCode } from '../../../core/src/errors.ts';
import type { Registrar } from '../../../core/src/node/align.ts';
import type { Volume } from '../../../core/src/volume.ts';
import type { EngineClient } from '../client.ts';
import { removeCaseFile, writeCaseFile } from './case-files.ts';

/**
 * The host's registrar for opening a case with rigid registration: each sequence goes to the
 * engine process (ENGINE_METHODS.register) by a private file, as proposals' volumes do, and comes
 * back on the reference grid. elastix never runs in the host, whose event loop serves the UI; this
 * module only imports types from core/src/node (register.ts stays out of the host's module graph).
 */
export function engineRegistrar(engine: () => Promise<EngineClient>, caseName: string): Registrar {
  return async (fixed: Volume, moving: Volume) => {
    const [f, m] = [fixed.source.sequence, moving.source.sequence];
    const what = `rigid registration of ${m} onto ${f}`;
    let client: EngineClient;
    try {
      client = await engine();
    } catch (e) {
      throw new QuorumError(
        codeOf(e, 'model'),
        `${what} runs in the engine process, which could not start: ${(e as Error).message}`,
      );
    }
    if (f === m) throw new QuorumError('bad-argument', `${what}: both are ${f}`);
    const file = writeCaseFile(`register-${caseName.replace(/[^\w.-]/g, '_')}`, { [f]: fixed, [m]: moving }, [
      f,
      m,
    ]);
    try {
      const r = await client.register({ file, fixed: f, moving: m, name: `${caseName} ${m}` });
      return {
        volume: {
          dims: [...fixed.dims],
          spacing: [...fixed.spacing],
          origin: [...fixed.origin],
          direction: [...fixed.direction],
          data: r.data,
          source: { ...moving.source, datatype: 'float32' },
        } as Volume,
        rotationDeg: r.rotationDeg,
        translationMm: r.translationMm,
        parameters: r.parameters,
        seconds: r.seconds,
        ranIn: `the engine process (pid ${r.pid})`,
      };
    } catch (e) {
      throw new QuorumError(codeOf(e, 'unsupported'), `${what} failed: ${(e as Error).message}`);
    } finally {
      removeCaseFile(file);
    }
  };
}

function codeOf(e: unknown, fallback: QuorumErrorCode): QuorumErrorCode {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? (code as QuorumErrorCode) : fallback;
}
