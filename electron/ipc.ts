/** IPC channel names shared by electron/main.ts and electron/preload.ts. */
export const IPC = {
  /**
   * renderer → main, once per page load, carrying one MessagePort: the page's RPC connection
   * (core/src/rpc; structured clone, so typed arrays travel as binary). A reload sends a new one.
   */
  connect: 'quorum:connect',
  /** main → renderer: (MenuCommand, paths?). */
  menu: 'quorum:menu',
} as const;
