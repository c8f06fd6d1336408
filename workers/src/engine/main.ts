/**
 * The engine process: owns the onnxruntime-node session and runs proposals, one at a time,
 * streaming results to its host over the RPC layer (core/src/rpc) on Node IPC. Started by
 * workers/src/client.ts (child_process); argv: <modelDir> <device>.
 */
import { QuorumError } from '../../../core/src/errors.ts';
import { type RpcMessage, RpcServer, type StreamSink } from '../../../core/src/rpc/channel.ts';
import { toWireError } from '../../../core/src/rpc/errors.ts';
import {
  type Device,
  ENGINE_METHODS,
  type EngineEvent,
  type EngineInfo,
  isFinalEngineEvent,
  type ProposeRequest,
} from '../protocol.ts';
import { propose } from './propose.ts';
import { loadModel } from './session.ts';

const [modelDir, device = 'auto'] = process.argv.slice(2);

interface Run {
  request: ProposeRequest;
  sink: StreamSink<EngineEvent>;
  cancelled: boolean;
}
const queue: Run[] = [];
let busy = false;

const model = loadModel(modelDir, device as Device).catch((e: Error) => {
  console.error(`quorum engine: ${e.message}`);
  process.exit(3);
});

async function drain() {
  if (busy) return;
  busy = true;
  const m = await model;
  while (queue.length) {
    const run = queue.shift()!;
    const { sink } = run;
    try {
      const r = await propose(m, run.request, {
        isCancelled: () => run.cancelled,
        progress: (done, total, slice, step, steps, etaSeconds) =>
          sink.emit({ type: 'progress', done, total, slice, step, steps, etaSeconds }),
        slice: (result) => sink.emit({ type: 'slice', result }),
      });
      sink.emit(r === 'cancelled' ? { type: 'cancelled' } : { type: 'done', summary: r });
    } catch (e) {
      const err = toWireError(e, 'model');
      // Not a user-facing error: the stack says where the engine broke.
      if (!(e instanceof QuorumError)) err.message = (e as Error)?.stack ?? err.message;
      sink.emit({ type: 'error', code: err.code, message: err.message });
    }
  }
  busy = false;
}

new RpcServer(
  {
    send: (msg) => {
      if (process.connected) process.send?.(msg);
    },
    onMessage: (listener) => process.on('message', (msg) => listener(msg as RpcMessage)),
    onClose: (listener) => process.on('disconnect', listener),
  },
  {
    calls: {
      [ENGINE_METHODS.info]: async (): Promise<EngineInfo> => {
        const m = await model;
        return {
          device: m.device,
          note: m.note,
          model: { name: m.manifest.name, version: m.manifest.version },
        };
      },
    },
    streams: {
      [ENGINE_METHODS.propose]: ([request]: [ProposeRequest], sink: StreamSink<EngineEvent>) => {
        const run: Run = { request, sink, cancelled: false };
        // Stops at the run's next step (or before it starts); the run then ends with 'cancelled'.
        sink.onCancel(() => {
          run.cancelled = true;
        });
        queue.push(run);
        void drain();
        return null;
      },
    },
    isFinal: (e) => isFinalEngineEvent(e as EngineEvent),
  },
);
process.on('disconnect', () => process.exit(0));
