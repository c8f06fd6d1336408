import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
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
import { decodeFrame, encodeFrame } from '../../../core/src/rpc/frame.ts';
import { quorumHandlers } from './handlers.ts';
import { type HostOptions, QuorumService, REPO_ROOT } from './service.ts';

export const RENDERER_DIST = join(REPO_ROOT, 'renderer', 'dist');

export interface WebHostOptions extends Partial<HostOptions> {
  /** 0 = a random free port (tests). Default 5817. */
  port?: number;
  rendererDir?: string;
  /** Reuse a service (tests); default a new one in browser mode. */
  service?: QuorumService;
  log?: (line: string) => void;
}

export interface WebHost {
  url: string;
  port: number;
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

/** Only our own pages may open the API socket: blocks other web pages from driving a local host. */
function allowedOrigin(req: IncomingMessage, port: number): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  const ok = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  if (!host || !ok.has(host)) return false;
  // Non-browser clients (tests, tools) send no Origin; browsers always do.
  return origin === undefined || ok.has(origin.replace(/^http:\/\//, ''));
}

export async function startWebHost(opts: WebHostOptions = {}): Promise<WebHost> {
  const log = opts.log ?? (() => {});
  const dist = resolve(opts.rendererDir ?? RENDERER_DIST);
  const service = opts.service ?? new QuorumService({ mode: 'browser', ...opts });
  let port = 0;
  const servers = new Set<RpcServer>();

  const server = createServer((req, res) => {
    securityHeaders(res, port);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
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

  const wss = new WebSocketServer({ noServer: true, maxPayload: 2 ** 31 - 1 });
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path !== WS_PATH || !allowedOrigin(req, port)) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const from = (req.socket.remoteAddress ?? 'loopback').replace(/^::ffff:/, '');
    wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws, service, from, servers, log));
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    // Loopback only: the host is never reachable from the network.
    server.listen(opts.port ?? 5817, '127.0.0.1', () => ok());
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/`;
  log(`Quorum browser mode on ${url}`);
  return {
    url,
    port,
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
          msg = decodeFrame<RpcMessage>(new Uint8Array(buf));
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
