import type { RpcMessage, Transport } from '../../../core/src/rpc/channel.ts';

/** Electron's utilityProcess link to its parent (process.parentPort in a utility process). */
interface ParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
}

/**
 * The engine's link to its host: Electron's process.parentPort when started by the desktop app
 * (utilityProcess; it is killed by its parent, there is no disconnect), else Node IPC
 * (child_process.fork; the engine exits when its host disconnects).
 */
export function parentTransport(): Transport {
  const parentPort = (process as { parentPort?: ParentPort }).parentPort;
  if (parentPort)
    return {
      send: (msg) => parentPort.postMessage(msg),
      onMessage: (listener) => parentPort.on('message', (e) => listener(e.data as RpcMessage)),
      onClose: () => {},
    };
  return {
    send: (msg) => {
      if (process.connected) process.send?.(msg);
    },
    onMessage: (listener) => void process.on('message', (msg) => listener(msg as RpcMessage)),
    onClose: (listener) => void process.on('disconnect', listener),
  };
}
