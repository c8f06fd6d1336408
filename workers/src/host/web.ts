import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import {
  API_METHODS,
  type DatasetEvent,
  decodeFrame,
  encodeFrame,
  type ProposalEvent,
  type WireMessage,
  WS_PATH,
} from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
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

/**
 * The browser-mode CSP: everything from this origin only, the API socket on this exact port,
 * no external requests of any kind. 'wasm-unsafe-eval' is for the image codecs (WebAssembly);
 * blob: workers for cornerstone3D's decoders; inline styles for Svelte transitions.
 */
export function contentSecurityPolicy(port: number): string {
  return [
    "default-src 'none'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function securityHeaders(res: ServerResponse, port: number) {
  res.setHeader('Content-Security-Policy', contentSecurityPolicy(port));
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
    wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws, service, log));
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
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
      if (!opts.service) await service.close();
    },
  };
}

/**
 * One browser tab: calls in, results and events out. When it goes, its proposal runs are
 * cancelled and its pre-labelling subscriptions dropped (the queue itself runs on).
 */
function serveSocket(ws: WebSocket, service: QuorumService, log: (l: string) => void) {
  const runs = new Set<string>();
  const subscriptions: [string, (e: DatasetEvent) => void][] = [];
  const send = (m: WireMessage) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(encodeFrame(m));
  };
  ws.on('message', async (raw: RawData, isBinary: boolean) => {
    let msg: WireMessage;
    try {
      if (!isBinary) throw new QuorumError('bad-argument', 'text frames are not part of the protocol');
      const buf = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw as ArrayBuffer);
      // A copy: ws may hand us pooled Buffers, and decoded arrays are views onto the frame.
      msg = decodeFrame(new Uint8Array(buf));
    } catch (e) {
      log(`dropped a bad frame: ${(e as Error).message}`);
      return;
    }
    if (msg.kind !== 'call') return;
    const { id, method, args } = msg;
    try {
      if (!API_METHODS.includes(method))
        throw new QuorumError('bad-argument', `unknown method ${String(method)}`);
      let value: unknown;
      if (method === 'propose') {
        const onEvent = (event: ProposalEvent) => {
          send({ kind: 'event', callId: id, event });
          if (event.type === 'done' || event.type === 'cancelled' || event.type === 'error')
            runs.delete(event.runId);
        };
        const r = await service.propose(args[0] as Parameters<QuorumService['propose']>[0], onEvent);
        runs.add(r.runId);
        value = r;
      } else if (method === 'prelabel') {
        const datasetId = args[0] as string;
        const onEvent = (event: DatasetEvent) => send({ kind: 'event', callId: id, event });
        subscriptions.push([datasetId, onEvent]);
        value = await service.prelabel(
          datasetId,
          args[1] as Parameters<QuorumService['prelabel']>[1],
          onEvent,
        );
      } else {
        const fn = service[method] as (...a: unknown[]) => Promise<unknown>;
        value = await fn.apply(service, args);
      }
      send({ kind: 'result', id, value: value ?? null });
    } catch (e) {
      const err = e as Error & { code?: string; file?: string };
      if (!(e instanceof QuorumError)) log(`${method} failed: ${err.stack ?? err.message}`);
      send({
        kind: 'error',
        id,
        error: { code: err.code ?? 'internal', message: err.message, file: err.file },
      });
    }
  });
  ws.on('close', () => {
    for (const r of runs) void service.cancel(r);
    for (const [d, l] of subscriptions) service.unsubscribePrelabel(d, l);
  });
}
