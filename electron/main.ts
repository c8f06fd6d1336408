import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  type MenuItemConstructorOptions,
  net,
  protocol,
  session,
} from 'electron';
import {
  API_METHODS,
  type ApiMethod,
  type DatasetEvent,
  type MenuCommand,
  type PrelabelParams,
  type ProposeParams,
  STREAM_METHODS,
} from '../core/src/api.ts';
import { QuorumService, REPO_ROOT, SAMPLE_CASE } from '../workers/src/host/service.ts';
import { IPC, type IpcReply } from './ipc.ts';

/**
 * Electron main: one window, one QuorumService, nothing else. The page is sandboxed and
 * context-isolated, served from app://quorum/ (renderer/dist), and every request to any other
 * scheme or host is refused: the app works offline by design, and a compromised page cannot
 * phone home. The engine runs in a separate process (D's EngineClient, child_process.fork with
 * Electron as Node), so inference never blocks the UI.
 */

const RENDERER = join(REPO_ROOT, 'renderer', 'dist');
const CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

protocol.registerSchemesAsPrivileged([
  { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
]);

const argCase = process.argv.slice(app.isPackaged ? 1 : 2).find((a) => !a.startsWith('-') && existsSync(a));
const initialCase = argCase ? resolve(argCase) : existsSync(SAMPLE_CASE) ? SAMPLE_CASE : undefined;
let win: BrowserWindow | undefined;

const service = new QuorumService({
  mode: 'electron',
  initialCase,
  stateDir: join(app.getPath('userData'), 'state'),
  outDir: join(app.getPath('documents'), 'Quorum', 'exports'),
  pickPaths: async (kind) => {
    const r = await dialog.showOpenDialog(win as BrowserWindow, {
      title: kind === 'folder' ? 'Open case folder (NIfTI or DICOM)' : 'Open MRI files',
      properties: kind === 'folder' ? ['openDirectory'] : ['openFile', 'multiSelections'],
      filters:
        kind === 'folder' ? [] : [{ name: 'NIfTI / DICOM', extensions: ['nii', 'gz', 'hdr', 'img', 'dcm'] }],
    });
    return r.canceled ? null : r.filePaths;
  },
  chooseExportDir: async (suggested) => {
    const r = await dialog.showOpenDialog(win as BrowserWindow, {
      title: 'Export to folder',
      defaultPath: suggested,
      properties: ['openDirectory', 'createDirectory'],
    });
    return r.canceled ? null : (r.filePaths[0] ?? null);
  },
});

function allowedUrl(u: string): boolean {
  return (
    u.startsWith('app://quorum/') ||
    u.startsWith('devtools://') ||
    u.startsWith('data:') ||
    u.startsWith('blob:')
  );
}

function send(cmd: MenuCommand, paths?: string[]) {
  win?.webContents.send(IPC.menu, cmd, paths);
}

async function openWith(kind: 'files' | 'folder') {
  const paths = await service.pickPaths(kind);
  if (paths?.length) send(kind === 'folder' ? 'open-folder' : 'open-file', paths);
}

function buildMenu() {
  const item = (label: string, accelerator: string, cmd: MenuCommand): MenuItemConstructorOptions => ({
    label,
    accelerator,
    click: () => send(cmd),
  });
  const template: MenuItemConstructorOptions[] = [
    ...(process.platform === 'darwin' ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        { label: 'Open File…', accelerator: 'CmdOrCtrl+O', click: () => void openWith('files') },
        { label: 'Open Folder…', accelerator: 'CmdOrCtrl+Shift+O', click: () => void openWith('folder') },
        { type: 'separator' },
        item('Export…', 'CmdOrCtrl+E', 'export'),
        { type: 'separator' },
        { role: 'quit' },
      ],
    },
    {
      label: 'Edit',
      submenu: [
        item('Undo', 'CmdOrCtrl+Z', 'undo'),
        item('Redo', process.platform === 'darwin' ? 'Cmd+Shift+Z' : 'Ctrl+Y', 'redo'),
      ],
    },
    {
      label: 'Proposal',
      submenu: [
        item('Propose Current Slice', 'CmdOrCtrl+P', 'propose-slice'),
        item('Propose Whole Volume', 'CmdOrCtrl+Shift+P', 'propose-all'),
        item('Cancel Proposal', 'CmdOrCtrl+.', 'cancel-proposal'),
        item('Next Most Uncertain Slice', 'CmdOrCtrl+N', 'next-uncertain'),
      ],
    },
    {
      label: 'View',
      submenu: [
        item('Toggle Proposal Overlay', 'CmdOrCtrl+1', 'toggle-proposal'),
        item('Toggle Uncertainty Overlay', 'CmdOrCtrl+2', 'toggle-uncertainty'),
        item('Toggle Member Masks', 'CmdOrCtrl+3', 'toggle-members'),
        { type: 'separator' },
        item('Layout 1x1', 'CmdOrCtrl+Alt+1', 'layout-1x1'),
        item('Layout 1x3', 'CmdOrCtrl+Alt+3', 'layout-1x3'),
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'togglefullscreen' },
        ...(app.isPackaged ? [] : [{ role: 'toggleDevTools' as const }]),
      ],
    },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

function registerIpc() {
  ipcMain.handle(IPC.call, async (_e, method: ApiMethod, args: unknown[]): Promise<IpcReply> => {
    try {
      if (!API_METHODS.includes(method) || (STREAM_METHODS as readonly ApiMethod[]).includes(method))
        throw new Error(`unknown method ${method}`);
      const fn = service[method] as (...a: unknown[]) => Promise<unknown>;
      return { ok: true, value: await fn.apply(service, args) };
    } catch (err) {
      const e = err as Error & { code?: string; file?: string };
      return { ok: false, error: { code: e.code ?? 'internal', message: e.message, file: e.file } };
    }
  });
  ipcMain.handle(IPC.propose, async (e, callId: number, params: ProposeParams): Promise<IpcReply> => {
    try {
      const sender = e.sender;
      const r = await service.propose(params, (event) => {
        if (!sender.isDestroyed()) sender.send(IPC.event, callId, event);
      });
      return { ok: true, value: r };
    } catch (err) {
      const x = err as Error & { code?: string; file?: string };
      return { ok: false, error: { code: x.code ?? 'internal', message: x.message, file: x.file } };
    }
  });
  ipcMain.handle(
    IPC.stream,
    async (e, callId: number, method: ApiMethod, args: unknown[]): Promise<IpcReply> => {
      try {
        if (method !== 'prelabel') throw new Error(`unknown streaming method ${method}`);
        const sender = e.sender;
        const datasetId = args[0] as string;
        const onEvent = (event: DatasetEvent) => {
          if (!sender.isDestroyed()) sender.send(IPC.event, callId, event);
          else service.unsubscribePrelabel(datasetId, onEvent);
        };
        return { ok: true, value: await service.prelabel(datasetId, args[1] as PrelabelParams, onEvent) };
      } catch (err) {
        const x = err as Error & { code?: string; file?: string };
        return { ok: false, error: { code: x.code ?? 'internal', message: x.message, file: x.file } };
      }
    },
  );
}

function lockDown() {
  // Refuse every request that is not the app's own: no network, ever.
  session.defaultSession.webRequest.onBeforeRequest((details, cb) =>
    cb({ cancel: !allowedUrl(details.url) }),
  );
  session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
  protocol.handle('app', async (req) => {
    const url = new URL(req.url);
    const rel = decodeURIComponent(url.pathname).replace(/^\/+/, '') || 'index.html';
    let file = resolve(RENDERER, rel);
    if (!file.startsWith(RENDERER)) return new Response('forbidden', { status: 403 });
    if (!existsSync(file)) file = join(RENDERER, 'index.html');
    const res = await net.fetch(pathToFileURL(file).href, { bypassCustomProtocolHandlers: true });
    const headers = new Headers(res.headers);
    headers.set('Content-Security-Policy', CSP);
    headers.set('X-Content-Type-Options', 'nosniff');
    // Cross-origin isolation, as in browser mode: lets cornerstone3D use SharedArrayBuffer.
    headers.set('Cross-Origin-Opener-Policy', 'same-origin');
    headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
    return new Response(res.body, { status: res.status, headers });
  });
  app.on('web-contents-created', (_e, wc) => {
    wc.on('will-navigate', (ev, url) => {
      if (!url.startsWith('app://quorum/')) ev.preventDefault();
    });
    wc.on('will-attach-webview', (ev) => ev.preventDefault());
    wc.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}

function createWindow() {
  win = new BrowserWindow({
    width: 1440,
    height: 920,
    title: 'Quorum',
    backgroundColor: '#111418',
    webPreferences: {
      preload: join(REPO_ROOT, 'electron', 'dist', 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      webviewTag: false,
      spellcheck: false,
    },
  });
  void win.loadURL('app://quorum/index.html');
  win.on('closed', () => {
    win = undefined;
  });
}

app.enableSandbox();
app.whenReady().then(() => {
  lockDown();
  registerIpc();
  buildMenu();
  createWindow();
  service.warmEngine();
});
app.on('window-all-closed', () => {
  void service.close().finally(() => app.quit());
});
