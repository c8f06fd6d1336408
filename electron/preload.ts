import { contextBridge, ipcRenderer, webUtils } from 'electron';
import { type MenuCommand, QUORUM_GLOBAL, type QuorumApi } from '../core/src/api.ts';
import { createApiClient } from '../core/src/api-client.ts';
import { RpcClient, type RpcMessage } from '../core/src/rpc/channel.ts';
import type { ApiError } from '../core/src/rpc/errors.ts';
import { IPC } from './ipc.ts';

/**
 * The renderer's only door to the system: QuorumApi over the RPC layer (core/src/rpc) on a
 * MessagePort handed to the main process, exposed with contextBridge into a sandboxed,
 * context-isolated page. Typed arrays travel by structured clone (binary, no JSON). Nothing else
 * from Node or Electron is reachable from the page.
 */
const { port1, port2 } = new MessageChannel();
ipcRenderer.postMessage(IPC.connect, null, [port2]);

const client = new RpcClient(
  {
    send: (m) => port1.postMessage(m),
    onMessage: (listener) => {
      port1.onmessage = (ev: MessageEvent<RpcMessage>) => listener(ev.data);
    },
    // The page and this preload go away together; the main process closes when the app quits.
    onClose: () => {},
  },
  {
    // contextBridge keeps only `message` of Error objects; a plain object keeps `code` and `file`
    // too. The renderer reads e.code / e.message (never instanceof) in both modes.
    makeError: (e) => ({ name: 'ApiError', ...e }) satisfies Pick<ApiError, 'name' | 'code' | 'message'>,
  },
);

const api: QuorumApi = {
  ...createApiClient(client),
  onMenu: (listener: (cmd: MenuCommand, paths?: string[]) => void) => {
    const h = (_e: unknown, cmd: MenuCommand, paths?: string[]) => listener(cmd, paths);
    ipcRenderer.on(IPC.menu, h);
    return () => ipcRenderer.removeListener(IPC.menu, h);
  },
  pathForFile: (file: unknown) => webUtils.getPathForFile(file as File),
};

contextBridge.exposeInMainWorld(QUORUM_GLOBAL, api);
