import { isAbsolute, relative, resolve, sep } from 'node:path';

/**
 * The Electron shell's trust decisions as pure functions (no 'electron' import), so that they are
 * unit-tested without an Electron binary (test/unit/electron-security.test.ts).
 */

/** The app's one origin: every page, IPC sender and navigation target must be on it. */
export const APP_ORIGIN = 'app://quorum';

/** Is `url` a page of the app itself (app://quorum/...)? Parsed, not prefix-matched. */
export function isAppUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  return u.protocol === 'app:' && u.host === 'quorum' && !u.username && !u.password && !u.port;
}

/** What an IPC event says about its sender (Electron's e.senderFrame), reduced to what is checked. */
export interface SenderInfo {
  /** e.senderFrame?.url; undefined when the frame is gone. */
  url: string | undefined;
  /** senderFrame === sender.mainFrame (an iframe, even of the app, is not trusted). */
  isMainFrame: boolean;
}

/** An IPC message is handled only from the app's own main frame. */
export function isTrustedSender(s: SenderInfo): boolean {
  return s.isMainFrame && s.url !== undefined && isAppUrl(s.url);
}

/**
 * The file that app://quorum/<pathname> serves from `root` (renderer/dist), or null when the
 * path leaves it: `..` (also percent-encoded), an absolute path, a drive letter, a NUL byte, or
 * a sibling whose name merely starts with root's (`renderer/dist-x`). '' and '/' = index.html.
 */
export function resolveAppFile(root: string, pathname: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(pathname);
  } catch {
    return null; // malformed escape
  }
  if (rel.includes('\0') || rel.includes('\\')) return null;
  rel = rel.replace(/^\/+/, '') || 'index.html';
  if (isAbsolute(rel) || /^[a-zA-Z]:/.test(rel)) return null;
  const base = resolve(root);
  const file = resolve(base, rel);
  const inside = relative(base, file);
  if (!inside || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) return null;
  // belt and braces: the separator is what keeps `dist-x` out
  if (!file.startsWith(base.endsWith(sep) ? base : base + sep)) return null;
  return file;
}

/**
 * Permissions the page may use. The viewer needs none beyond what a sandboxed page has without
 * asking (clipboard writes of the app's own text are not a permission check in Chromium), so
 * every request and check is refused; the list exists so that adding one is a deliberate edit.
 */
export const ALLOWED_PERMISSIONS: readonly string[] = [];

export function permissionAllowed(permission: string, requestingUrl: string | undefined): boolean {
  return requestingUrl !== undefined && isAppUrl(requestingUrl) && ALLOWED_PERMISSIONS.includes(permission);
}

/** Requests the session lets through: the app's own files and in-page data; nothing on a network. */
export function requestAllowed(url: string): boolean {
  return isAppUrl(url) || url.startsWith('devtools://') || url.startsWith('data:') || url.startsWith('blob:');
}
