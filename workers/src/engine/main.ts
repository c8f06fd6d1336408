/**
 * The engine process: owns the onnxruntime-node session and runs proposals, one at a time,
 * streaming results to its host over IPC. Started by workers/src/client.ts (child_process) or
 * by Electron's utilityProcess; argv: <modelDir> <device>.
 */
import { QuorumError } from '../../../core/src/errors.ts';
import type { Device, EngineEvent, HostToEngine } from '../protocol.ts';
import { propose } from './propose.ts';
import { loadModel } from './session.ts';

const send = (e: EngineEvent) => process.send?.(e);
const [modelDir, device = 'auto'] = process.argv.slice(2);
const cancelled = new Set<number>();
const queue: Array<Extract<HostToEngine, { type: 'propose' }>> = [];
let busy = false;

const model = await loadModel(modelDir, device as Device).catch((e: Error) => {
  console.error(`quorum engine: ${e.message}`);
  process.exit(3);
});
send({
  type: 'ready',
  device: model.device,
  note: model.note,
  model: { name: model.manifest.name, version: model.manifest.version },
});

async function drain() {
  if (busy) return;
  busy = true;
  while (queue.length) {
    const msg = queue.shift()!;
    const id = msg.id;
    try {
      const r = await propose(model, msg.request, {
        isCancelled: () => cancelled.has(id),
        progress: (done, total, slice, step, steps, etaSeconds) =>
          send({ type: 'progress', id, done, total, slice, step, steps, etaSeconds }),
        slice: (result) => send({ type: 'slice', id, result }),
      });
      send(r === 'cancelled' ? { type: 'cancelled', id } : { type: 'done', id, summary: r });
    } catch (e) {
      const qe = e instanceof QuorumError ? e : new QuorumError('model', (e as Error).stack ?? String(e));
      send({ type: 'error', id, code: qe.code, message: qe.message });
    }
    cancelled.delete(id);
  }
  busy = false;
}

process.on('message', (msg: HostToEngine) => {
  if (msg.type === 'cancel') cancelled.add(msg.id);
  else if (msg.type === 'propose') {
    queue.push(msg);
    void drain();
  }
});
process.on('disconnect', () => process.exit(0));
