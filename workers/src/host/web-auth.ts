import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The browser-mode host's per-launch secret. Any local user or process can connect to a loopback
 * port, so every HTTP request and every WebSocket upgrade must carry the secret: the printed URL
 * has it once as `?token=…`; the host answers that request with an HttpOnly, SameSite=Strict
 * cookie and a redirect to the clean URL, and afterwards accepts the cookie only. Comparisons are
 * constant-time. The cookie name carries the port: cookies are not separated by port, and two
 * hosts on one machine must not overwrite each other's.
 */

/** 32 random bytes (256 bits), base64url: URL- and cookie-safe. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export const TOKEN_PARAM = 'token';
export const cookieName = (port: number) => `quorum_token_${port}`;

/** Constant-time comparison; a length mismatch is refused without comparing contents. */
export function sameSecret(given: string | undefined | null, secret: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(secret, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of cookie `name` in a request's Cookie header(s), if present. */
export function cookieValue(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function hasSecretCookie(req: IncomingMessage, port: number, secret: string): boolean {
  return sameSecret(cookieValue(req, cookieName(port)), secret);
}

/** Set-Cookie for the exchanged secret: session-only, never readable by scripts, never cross-site. */
export function secretCookie(port: number, secret: string): string {
  return `${cookieName(port)}=${secret}; Path=/; HttpOnly; SameSite=Strict`;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
export const isLoopback = (address: string) => LOOPBACK.has(address) || address.startsWith('127.');
const isWildcard = (address: string) => address === '0.0.0.0' || address === '::';

/** `host:port` as it appears in a Host header (IPv6 in brackets). */
export const hostPort = (address: string, port: number) =>
  `${address.includes(':') ? `[${address}]` : address}:${port}`;

/**
 * Only the host's own pages may open the API socket (against cross-site WebSocket hijacking and
 * DNS rebinding): the Host header must name this host, and an Origin, when sent (browsers always
 * send one), must be exactly `http://` + that Host. Non-browser clients send no Origin; they still
 * need the secret cookie.
 */
export function ownOrigin(req: IncomingMessage, port: number, bind: string): boolean {
  const host = req.headers.host;
  if (!host) return false;
  const ok = new Set([`127.0.0.1:${port}`, `localhost:${port}`, hostPort(bind, port)]);
  // Bound to every address: any Host naming this port (the secret still gates everything).
  if (!ok.has(host) && !(isWildcard(bind) && host.endsWith(`:${port}`))) return false;
  const origin = req.headers.origin;
  return origin === undefined || origin === `http://${host}`;
}

export const FORBIDDEN_PAGE = `<!doctype html><meta charset="utf-8"><title>Quorum</title>
<p>This Quorum host needs the link it printed when it started (<code>http://…/?token=…</code>).
Open that link, as printed, in this browser.</p>`;
