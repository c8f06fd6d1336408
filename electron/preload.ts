import { contextBridge, ipcRenderer, webUtils } from 'electron';
import {
  API_METHODS,
  type ApiError,
  type MenuCommand,
  type ProposalEvent,
  type ProposeParams,
  QUORUM_GLOBAL,
  type QuorumApi,
} from '../core/src/api.ts';
import { IPC, type IpcReply } from './ipc.ts';

/**
 * The renderer's only door to the system: QuorumApi over IPC, exposed with contextBridge into a
 * sandboxed, context-isolated page. Typed arrays travel by structured clone (binary, no JSON).
 * Nothing else from Node or Electron is reachable from the page.
 */
const unwrap = (r: IpcReply) => {
  if (r.ok) return r.value;
  // contextBridge keeps only `message` of Error objects; a plain object keeps `code` and `file`
  // too. The renderer reads e.code / e.message (never instanceof) in both modes.
  throw { name: 'ApiError', ...r.error } satisfies Pick<ApiError, 'name' | 'code' | 'message'>;
};

const listeners = new Map<number, (e: ProposalEvent) => void>();
let nextCall = 1;
ipcRenderer.on(IPC.event, (_e, callId: number, event: ProposalEvent) => {
  listeners.get(callId)?.(event);
  if (event.type === 'done' || event.type === 'cancelled' || event.type === 'error') listeners.delete(callId);
});

const api: Record<string, unknown> = {};
for (const m of API_METHODS) {
  if (m === 'propose') continue;
  api[m] = async (...args: unknown[]) => unwrap(await ipcRenderer.invoke(IPC.call, m, args));
}
api.propose = async (params: ProposeParams, onEvent: (e: ProposalEvent) => void) => {
  const callId = nextCall++;
  listeners.set(callId, onEvent);
  try {
    return unwrap(await ipcRenderer.invoke(IPC.propose, callId, params));
  } catch (e) {
    listeners.delete(callId);
    throw e;
  }
};
api.onMenu = (listener: (cmd: MenuCommand, paths?: string[]) => void) => {
  const h = (_e: unknown, cmd: MenuCommand, paths?: string[]) => listener(cmd, paths);
  ipcRenderer.on(IPC.menu, h);
  return () => ipcRenderer.removeListener(IPC.menu, h);
};
api.pathForFile = (file: unknown) => webUtils.getPathForFile(file as File);

contextBridge.exposeInMainWorld(QUORUM_GLOBAL, api as unknown as QuorumApi);
