import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { WS_PATH } from '../../../core/src/api.ts';
import { browserContentSecurityPolicy } from '../../../core/src/csp.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import {
  type RpcHandlers,
  type RpcMessage,
  RpcServer,
  type Transport,
} from '../../../core/src/rpc/channel.ts';
import { decodeFrame, encodeFrame, MAX_UPLOAD_FRAME_BYTES } from '../../../core/src/rpc/frame.ts';
import { quorumHandlers } from './handlers.ts';
import { type HostOptions, QuorumService, REPO_ROOT } from './service.ts';
import {
  cookieName,
  FORBIDDEN_PAGE,
  hasSecretCookie,
  hostPort,
  isLoopback,
  newSecret,
  ownOrigin,
  sameSecret,
  secretCookie,
  TOKEN_PARAM,
} from './web-auth.ts';

export const RENDERER_DIST = join(REPO_ROOT, 'renderer', 'dist');

export interface WebHostOptions extends Partial<HostOptions> {
  /** 0 = a random free port (tests). Default 5817. */
  port?: number;
  /**
   * Address to listen on; default 127.0.0.1. Any other address exposes the host beyond this
   * machine: it is still gated by the secret, and a warning is logged.
   */
  bind?: string;
  /** The per-launch secret (tests); default 256 random bits, new at every launch. */
  secret?: string;
  rendererDir?: string;
  /** Reuse a service (tests); default a new one in browser mode. */
  service?: QuorumService;
  log?: (line: string) => void;
}

export interface WebHost {
  /** The clean URL (no secret): what the page shows once the secret is exchanged for a cookie. */
  url: string;
  /** The URL to open: `url` with `?token=<secret>`, exchanged for the cookie on first load. */
  launchUrl: string;
  port: number;
  secret: string;
  /** `name=value` for a Cookie header: how non-browser clients (tests, tools) authenticate. */
  cookie: string;
  service: QuorumService;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

function securityHeaders(res: ServerResponse, port: number) {
  res.setHeader('Content-Security-Policy', browserContentSecurityPolicy(port));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  // Cross-origin isolation lets cornerstone3D use SharedArrayBuffer for large volumes.
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Quorum</title>
<p>The Quorum viewer is not built. Run <code>npm run build</code> (or <code>npm run web</code>, which builds it).</p>`;

export async function startWebHost(opts: WebHostOptions = {}): Promise<WebHost> {
  const secret = opts.secret ?? newSecret();
  if (!/^[\w-]{22,}$/.test(secret))
    throw new Error('the browser-mode secret must be >= 128 bits of base64url');
  const log = opts.log ?? (() => {});
  const dist = resolve(opts.rendererDir ?? RENDERER_DIST);
  const service = opts.service ?? new QuorumService({ mode: 'browser', ...opts });
  const bind = opts.bind ?? '127.0.0.1';
  let port = 0;
  const servers = new Set<RpcServer>();

  const server = createServer((req, res) => {
    securityHeaders(res, port);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // The secret first, before anything else is answered (even 404/405 would tell a prober too much).
    const given = url.searchParams.get(TOKEN_PARAM);
    if (given !== null) {
      if (!sameSecret(given, secret)) {
        res.writeHead(403, { 'Content-Type': 'text/html; charset=utf-8' }).end(FORBIDDEN_PAGE);
        return;
      }
      // Exchange: the cookie from now on, and the clean URL in the address bar and history.
      url.searchParams.delete(TOKEN_PARAM);
      res.writeHead(303, {
        'Set-Cookie': secretCookie(port, secret),
        Location: `/${url.pathname.replace(/^\/+/, '')}${url.search}`,
      });
      res.end();
      return;
    }
    if (!hasSecretCookie(req, port, secret)) {
      res.writeHead(403, { 'Content-Type': 'text/html; charset=utf-8' }).end(FORBIDDEN_PAGE);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    let path: string;
    try {
      path = normalize(decodeURIComponent(url.pathname));
    } catch {
      res.writeHead(400).end();
      return;
    }
    let file = resolve(dist, `.${path}`);
    if (file !== dist && !file.startsWith(dist + sep)) {
      res.writeHead(403).end();
      return;
    }
    if (!existsSync(file) || statSync(file).isDirectory()) {
      // Single-page app: unknown paths without an extension get index.html.
      if (extname(path)) {
        res.writeHead(404).end();
        return;
      }
      file = join(dist, 'index.html');
      if (!existsSync(file)) {
        res.writeHead(503, { 'Content-Type': 'text/html; charset=utf-8' }).end(NOT_BUILT);
        return;
      }
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(req.method === 'HEAD' ? undefined : readFileSync(file));
  });

  // The largest message a page sends is openUploaded with every dropped file in one frame; the
  // cap is the wire's upload cap (MAX_UPLOAD_FRAME_BYTES, 1 GiB), which the page checks before
  // sending, so a bigger drop gets a clear error instead of a closed socket. Frames from the host
  // to the page (a whole volume) may be larger: they are not bounded by this.
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_UPLOAD_FRAME_BYTES });
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path !== WS_PATH || !hasSecretCookie(req, port, secret) || !ownOrigin(req, port, bind)) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const from = (req.socket.remoteAddress ?? 'loopback').replace(/^::ffff:/, '');
    wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws, service, from, servers, log));
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    // Loopback by default: not reachable from the network unless `bind` says otherwise.
    server.listen(opts.port ?? 5817, bind, () => ok());
  });
  port = (server.address() as AddressInfo).port;
  const shown = bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind;
  const url = `http://${hostPort(shown, port)}/`;
  const launchUrl = `${url}?${TOKEN_PARAM}=${secret}`;
  if (!isLoopback(bind))
    log(
      `WARNING: listening on ${bind}, reachable from other machines. Anyone who gets the printed ` +
        'link can read and write every file this user can; the traffic is not encrypted (plain HTTP).',
    );
  log(`Quorum browser mode listening on ${hostPort(bind, port)}`);
  return {
    url,
    launchUrl,
    port,
    secret,
    cookie: `${cookieName(port)}=${secret}`,
    service,
    async close() {
      // Every open stream of every tab ends with 'disconnected' before its socket goes.
      for (const s of servers) s.dispose();
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
      if (!opts.service) await service.close();
    },
  };
}

/**
 * One browser tab: the RPC layer over its socket, one binary frame per message, and a host
 * connection (QuorumService.connect). When the tab goes, the layer cancels its open streams and
 * the service releases everything the tab opened: its proposal runs stop (queued batches never
 * reach the engine), its pre-labelling subscriptions are dropped (the queue itself runs on), its
 * cases, case files, upload folders and journal locks go.
 */
function serveSocket(
  ws: WebSocket,
  service: QuorumService,
  from: string,
  servers: Set<RpcServer>,
  log: (l: string) => void,
) {
  const conn = service.connect(`browser tab from ${from}`);
  const handlers: RpcHandlers = quorumHandlers(service, log, conn);
  const transport: Transport = {
    send: (m) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(encodeFrame(m));
    },
    onMessage: (listener) =>
      ws.on('message', (raw: RawData, isBinary: boolean) => {
        let msg: RpcMessage;
        try {
          if (!isBinary) throw new QuorumError('bad-argument', 'text frames are not part of the protocol');
          const buf = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw as ArrayBuffer);
          // A copy: ws may hand us pooled Buffers, and decoded arrays are views onto the frame.
          msg = decodeFrame<RpcMessage>(new Uint8Array(buf), MAX_UPLOAD_FRAME_BYTES);
        } catch (e) {
          log(`dropped a bad frame: ${(e as Error).message}`);
          return;
        }
        listener(msg);
      }),
    onClose: (listener) => ws.on('close', listener),
  };
  const server = new RpcServer(transport, handlers);
  servers.add(server);
  ws.on('close', () => {
    servers.delete(server);
    service.disconnect(conn);
  });
}
