import { QuorumError, type QuorumErrorCode } from '../../../core/src/errors.ts';
import type { Registrar } from '../../../core/src/node/align.ts';
import type { Volume } from '../../../core/src/volume.ts';
import type { EngineClient } from '../client.ts';
import { removeCaseFile, writeCaseFile } from './case-files.ts';
import type { EngineScheduler } from './scheduler.ts';

/** How the host runs a case's registrations: in turns with proposals, stoppable by `signal`. */
export interface ScheduledRegistration {
  scheduler: EngineScheduler;
  /** The connection that opened the case (turns are taken between connections). */
  owner: string;
  /** Aborted when the open is cancelled or its connection goes: the registration stops. */
  signal: AbortSignal;
}

/**
 * The host's registrar for opening a case with rigid registration: each sequence goes to the
 * engine process (ENGINE_METHODS.register) by a private file, as proposals' volumes do, and comes
 * back on the reference grid. elastix never runs in the host, whose event loop serves the UI; this
 * module only imports types from core/src/node (register.ts stays out of the host's module graph).
 * With `scheduled`, each sequence's registration is one turn of the host's scheduler (a whole-volume
 * proposal of another tab waits for it, and it for the batch in flight), and aborting the signal
 * drops a queued registration or stops the running one (the engine process is restarted: one
 * elastix call cannot be interrupted inside WebAssembly); the open then fails with 'cancelled'.
 */
export function engineRegistrar(
  engine: () => Promise<EngineClient>,
  caseName: string,
  scheduled?: ScheduledRegistration,
): Registrar {
  return async (fixed: Volume, moving: Volume) => {
    const signal = scheduled?.signal;
    if (signal?.aborted) throw new QuorumError('cancelled', 'cancelled');
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
    const req = { file, fixed: f, moving: m, name: `${caseName} ${m}` };
    try {
      let r: Awaited<ReturnType<EngineClient['register']>['result']>;
      if (!scheduled) r = await client.register(req).result;
      else {
        const run = scheduled.scheduler.submitTasks(scheduled.owner, `register ${m} of ${caseName}`, [
          (e) => e.register(req),
        ]);
        const stop = () => run.cancel();
        scheduled.signal.addEventListener('abort', stop, { once: true });
        if (scheduled.signal.aborted) stop(); // aborted while the engine was being reached
        try {
          [r] = (await run.result) as [typeof r];
        } finally {
          scheduled.signal.removeEventListener('abort', stop);
        }
      }
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
      if (codeOf(e, 'unsupported') === 'cancelled') throw new QuorumError('cancelled', `${what} cancelled`);
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
