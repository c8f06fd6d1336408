import { contextBridge, ipcRenderer, webUtils } from 'electron';
import {
  API_METHODS,
  type ApiError,
  type ApiEvent,
  type ApiMethod,
  isFinalEvent,
  type MenuCommand,
  type ProposalEvent,
  type ProposeParams,
  QUORUM_GLOBAL,
  type QuorumApi,
  STREAM_METHODS,
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

const listeners = new Map<number, (e: ApiEvent) => void>();
let nextCall = 1;
ipcRenderer.on(IPC.event, (_e, callId: number, event: ApiEvent) => {
  listeners.get(callId)?.(event);
  if (isFinalEvent(event)) listeners.delete(callId);
});

const api: Record<string, unknown> = {};
for (const m of API_METHODS) {
  if ((STREAM_METHODS as readonly ApiMethod[]).includes(m)) {
    if (m === 'propose') continue;
    // Other streaming methods (prelabel): the callback stays here, the other arguments travel.
    api[m] = async (...args: unknown[]) => {
      const callId = nextCall++;
      listeners.set(callId, args.at(-1) as (e: ApiEvent) => void);
      try {
        return unwrap(await ipcRenderer.invoke(IPC.stream, callId, m, args.slice(0, -1)));
      } catch (e) {
        listeners.delete(callId);
        throw e;
      }
    };
    continue;
  }
  api[m] = async (...args: unknown[]) => unwrap(await ipcRenderer.invoke(IPC.call, m, args));
}
api.propose = async (params: ProposeParams, onEvent: (e: ProposalEvent) => void) => {
  const callId = nextCall++;
  listeners.set(callId, onEvent as (e: ApiEvent) => void);
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
