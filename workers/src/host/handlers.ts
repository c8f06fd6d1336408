import {
  API_METHODS,
  type ApiMethod,
  type DatasetEvent,
  isFinalEvent,
  type OpenCaseOptions,
  type PacsEvent,
  type PacsStoreRequest,
  type PrelabelParams,
  type ProposalEvent,
  type ProposeParams,
  STREAM_METHODS,
} from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { REGISTRATIONS } from '../../../core/src/lists.ts';
import type { CallHandler, RpcHandlers, StreamHandler, StreamSink } from '../../../core/src/rpc/channel.ts';
import type { Connection } from './connections.ts';
import type { QuorumService } from './service.ts';

/**
 * QuorumService registered once with the RPC layer (core/src/rpc): every adapter (Electron's
 * MessagePorts, the browser-mode WebSocket) serves these same handlers. Streams are streams: a
 * client that cancels or goes away stops its proposal run or drops its pre-labelling
 * subscription (the queue itself runs on).
 */
/** A client's open options, only the known ones (an older client sends none). */
function openOptions(o: unknown): OpenCaseOptions {
  const register = (o as OpenCaseOptions | undefined)?.register;
  const labels = (o as OpenCaseOptions | undefined)?.labels;
  if (labels !== undefined && (typeof labels !== 'string' || !labels))
    throw new QuorumError('bad-argument', 'labels must be the path of a label file');
  const openId = (o as OpenCaseOptions | undefined)?.openId;
  if (openId !== undefined && (typeof openId !== 'string' || !openId || openId.length > 200))
    throw new QuorumError('bad-argument', 'openId must be a non-empty string (at most 200 characters)');
  const withLabels = { ...(labels ? { labels } : {}), ...(openId ? { openId } : {}) };
  if (register === undefined) return withLabels;
  if (!(REGISTRATIONS as readonly unknown[]).includes(register))
    throw new QuorumError('bad-argument', `register must be one of ${REGISTRATIONS.join(', ')}`);
  return { register, ...withLabels };
}

export function quorumHandlers(
  service: QuorumService,
  log?: (line: string) => void,
  /** The client these handlers serve (a browser tab): what it opens is released with it. */
  conn: Connection = service.local,
): RpcHandlers {
  const streams = {
    propose: async ([params]: [ProposeParams], sink: StreamSink<ProposalEvent>) => {
      const r = await service.propose(params, (e) => sink.emit(e), conn);
      sink.onCancel(() => void service.cancel(r.runId));
      return r;
    },
    prelabel: async ([datasetId, params]: [string, PrelabelParams], sink: StreamSink<DatasetEvent>) => {
      const onEvent = (e: DatasetEvent) => sink.emit(e);
      sink.onCancel(() => {
        // The queue runs on; this subscription ends (it has no final event of its own).
        service.unsubscribePrelabel(datasetId, onEvent);
        sink.emit({ type: 'disconnected', message: 'unsubscribed' });
      });
      return service.prelabel(datasetId, params, onEvent, conn);
    },
    // PACS transfers: a client that cancels or goes away stops its retrieve or store.
    pacsRetrieve: async ([node, study]: [string, string], sink: StreamSink<PacsEvent>) => {
      const r = await service.pacsRetrieve(node, study, (e) => sink.emit(e));
      sink.onCancel(() => void service.pacsCancel(r.transferId));
      return r;
    },
    pacsStore: async ([req]: [PacsStoreRequest], sink: StreamSink<PacsEvent>) => {
      const r = await service.pacsStore(req, (e) => sink.emit(e));
      sink.onCancel(() => void service.pacsCancel(r.transferId));
      return r;
    },
  } satisfies Record<(typeof STREAM_METHODS)[number], unknown>;
  const calls: Record<string, CallHandler> = {};
  for (const m of API_METHODS as readonly ApiMethod[]) {
    if (!(STREAM_METHODS as readonly string[]).includes(m)) {
      const fn = service[m] as (...a: unknown[]) => unknown;
      calls[m] = (...args: unknown[]) => fn.apply(service, args);
    }
  }
  // Methods that take the connection: fixed arity, so a client cannot pass one of its own.
  calls.openCase = (input: unknown, options: unknown) =>
    service.openCase(input as Parameters<QuorumService['openCase']>[0], openOptions(options), conn);
  calls.openSample = (options: unknown) => service.openSample(openOptions(options), conn);
  calls.openUploaded = (files: unknown, options: unknown) =>
    service.openUploaded(files as Parameters<QuorumService['openUploaded']>[0], openOptions(options), conn);
  return {
    calls,
    streams: streams as unknown as Record<string, StreamHandler>,
    isFinal: (e) => isFinalEvent(e as ProposalEvent | DatasetEvent | PacsEvent),
    onInternalError: (method, e) =>
      log?.(`${method} failed: ${(e as Error)?.stack ?? (e as Error)?.message ?? String(e)}`),
  };
}
