/** IPC channel names shared by electron/main.ts and electron/preload.ts. */
export const IPC = {
  /** invoke(method, args) → result (request/response methods of QuorumApi). */
  call: 'quorum:call',
  /** invoke(callId, params) → { runId }; events follow on `event`. */
  propose: 'quorum:propose',
  /** invoke(callId, method, args) → result, for the other streaming methods (prelabel); events on `event`. */
  stream: 'quorum:stream',
  /** main → renderer: (callId, ProposalEvent | DatasetEvent). */
  event: 'quorum:event',
  /** main → renderer: (MenuCommand, paths?). */
  menu: 'quorum:menu',
} as const;

/** Errors cross IPC as a plain object in the result, since Electron keeps only `message` of thrown errors. */
export type IpcReply =
  | { ok: true; value: unknown }
  | { ok: false; error: { code: string; message: string; file?: string } };
