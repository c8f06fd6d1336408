import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  type IpcMainEvent,
  ipcMain,
  Menu,
  type MenuItemConstructorOptions,
  net,
  protocol,
  session,
} from 'electron';
import type { MenuCommand } from '../core/src/api.ts';
import { contentSecurityPolicy } from '../core/src/csp.ts';
import { type RpcMessage, RpcServer, type Transport } from '../core/src/rpc/channel.ts';
import { EngineClient } from '../workers/src/client.ts';
import { quorumHandlers } from '../workers/src/host/handlers.ts';
import { QuorumService, REPO_ROOT, SAMPLE_CASE } from '../workers/src/host/service.ts';
import { utilityEngine } from './engine-process.ts';
import { IPC } from './ipc.ts';
import { isAppUrl, isTrustedSender, permissionAllowed, requestAllowed, resolveAppFile } from './security.ts';

/**
 * Electron main: one window, one QuorumService, nothing else. The page is sandboxed and
 * context-isolated, served from app://quorum/ (renderer/dist), and every request to any other
 * scheme or host is refused: the app works offline by design, and a compromised page cannot
 * phone home. IPC is answered only from the app's own main frame; every permission is refused;
 * navigation and new windows are refused. The engine runs in Electron's utilityProcess
 * (electron/engine-process.ts; no RunAsNode, a fuse that is off in the installers), so
 * inference never blocks the UI.
 */

const RENDERER = join(REPO_ROOT, 'renderer', 'dist');
const CSP = contentSecurityPolicy();

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
  startEngine: () => EngineClient.start({ spawn: utilityEngine }),
  pickPaths: async (kind) => {
    const r = await dialog.showOpenDialog(win as BrowserWindow, {
      title: kind === 'folder' ? 'Open case folder (NIfTI or DICOM)' : 'Open MRI files',
      properties: kind === 'folder' ? ['openDirectory'] : ['openFile', 'multiSelections'],
      filters:
        kind === 'folder'
          ? []
          : [
              {
                name: 'NIfTI / NRRD / MetaImage / DICOM',
                extensions: ['nii', 'gz', 'hdr', 'img', 'nrrd', 'nhdr', 'mha', 'mhd', 'dcm'],
              },
            ],
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

/** The sender check every IPC handler makes first: the app's own page, its main frame. */
function fromApp(e: IpcMainEvent): boolean {
  const frame = e.senderFrame;
  const ok = isTrustedSender({ url: frame?.url, isMainFrame: !!frame && frame === e.sender.mainFrame });
  if (!ok) console.error(`quorum: IPC from ${frame?.url ?? 'a gone frame'} refused`);
  return ok;
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
    {
      role: 'help',
      submenu: [{ label: 'About the Model…', click: () => send('about-model') }],
    },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

/**
 * Each page load hands over one MessagePort: one host connection, released (its runs, cases,
 * journal locks) when the page reloads or its window goes.
 */
function registerIpc() {
  ipcMain.on(IPC.connect, (e) => {
    if (!fromApp(e)) return;
    const [port] = e.ports;
    if (!port) return;
    const conn = service.connect('Quorum window');
    const handlers = quorumHandlers(service, (line) => console.error(line), conn);
    const release = () => service.disconnect(conn);
    port.once('close', release);
    e.sender.once('destroyed', release);
    const transport: Transport = {
      send: (m) => port.postMessage(m),
      onMessage: (listener) => port.on('message', (ev) => listener(ev.data as RpcMessage)),
      onClose: (listener) => {
        port.once('close', listener);
        e.sender.once('destroyed', listener);
      },
    };
    new RpcServer(transport, handlers);
    port.start();
  });
}

function lockDown() {
  // Refuse every request that is not the app's own: no network, ever.
  const ses = session.defaultSession;
  ses.webRequest.onBeforeRequest((details, cb) => cb({ cancel: !requestAllowed(details.url) }));
  // No permission is needed (ALLOWED_PERMISSIONS is empty): notifications, media, geolocation,
  // clipboard reads, HID/serial/USB, … are all refused, asked or merely checked.
  ses.setPermissionRequestHandler((wc, perm, cb, details) =>
    cb(permissionAllowed(perm, details.requestingUrl ?? wc?.getURL())),
  );
  ses.setPermissionCheckHandler((wc, perm, origin) => permissionAllowed(perm, origin || wc?.getURL()));
  ses.setDevicePermissionHandler(() => false);
  protocol.handle('app', async (req) => {
    const url = new URL(req.url);
    if (url.host !== 'quorum') return new Response('not found', { status: 404 });
    let file = resolveAppFile(RENDERER, url.pathname);
    if (file === null) return new Response('forbidden', { status: 403 });
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
    // In-page navigation stays in the app (a reload is not a navigation event); anything else,
    // including redirects, is refused, as are new windows and webviews.
    const refuse = (ev: { preventDefault(): void }, url: string) => {
      if (!isAppUrl(url)) {
        ev.preventDefault();
        console.error(`quorum: navigation to ${url} refused`);
      }
    };
    wc.on('will-navigate', refuse);
    wc.on('will-frame-navigate', (ev) => refuse(ev, ev.url));
    wc.on('will-redirect', refuse);
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
