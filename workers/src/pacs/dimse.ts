import dimse from 'dcmjs-dimse';
import type { PacsNode, PacsQuery, PacsStudy } from '../../../core/src/api-pacs.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { p10Bytes } from './p10.ts';

/**
 * DIMSE with a configured node through dcmjs-dimse: C-ECHO, C-FIND (study level), C-GET (the
 * images come back on the same association, so no listening port is needed) and C-STORE. Every
 * failure becomes a QuorumError('network') whose message names the node and says what happened:
 * the association was refused (and why), the connection was refused, or the node did not answer.
 */
const { Client } = dimse;
const { CEchoRequest, CFindRequest, CGetRequest, CStoreRequest } = dimse.requests;
const { CStoreResponse } = dimse.responses;
const { Status } = dimse.constants;
// dcmjs-dimse logs every PDU at 'trace' by default; Quorum reports failures itself.
dimse.log.setLevel('silent');
// C-GET proposes every storage class in dcmjs-dimse's list; a PACS can only send what was
// proposed. The list lacks the derived objects Quorum itself stores into a study (Segmentation,
// Parametric Map) and a few MR ones, so a study holding them could not be retrieved: they are
// proposed as well.
const EXTRA_STORAGE_CLASSES = [
  '1.2.840.10008.5.1.4.1.1.66.4', // Segmentation
  '1.2.840.10008.5.1.4.1.1.30', // Parametric Map
  '1.2.840.10008.5.1.4.1.1.4.4', // Legacy Converted Enhanced MR
  '1.2.840.10008.5.1.4.1.1.4.3', // Enhanced MR Color
];

export interface DimseTarget {
  node: PacsNode;
  /** Quorum's calling AE title. */
  localAet: string;
  /** No answer for this long (connect, association, any PDU) is a timeout. Default 15 s. */
  timeoutMs?: number;
}

/** "pacs (ORTHANC@127.0.0.1:4242)" or "pacs (http://host/dicom-web)": how messages name a node. */
export function nodeLabel(n: PacsNode): string {
  return n.dicomweb ? `${n.name} (${n.dicomweb})` : `${n.name} (${n.aet}@${n.host}:${n.port})`;
}

// PS3.8 9.3.4: A-ASSOCIATE-RJ source and reason.
function rejectReason(r: { result: number; source: number; reason: number }, t: DimseTarget): string {
  if (r.source === 1) {
    if (r.reason === 3)
      return `it does not know Quorum's AE title ${t.localAet} (add it to the PACS's list of modalities)`;
    if (r.reason === 7)
      return `it does not answer to the called AE title ${t.node.aet} (check the node's AE title)`;
    if (r.reason === 2) return 'application context not supported';
    return 'no reason given';
  }
  if (r.source === 2) return r.reason === 2 ? 'protocol version not supported' : 'no reason given (ACSE)';
  return r.reason === 1 ? 'temporary congestion' : 'local limit exceeded';
}

function networkMessage(e: Error, t: DimseTarget): string {
  const m = e.message ?? String(e);
  if (/ECONNREFUSED/.test(m))
    return `cannot connect to PACS ${nodeLabel(t.node)}: connection refused (is it running, is the port right?)`;
  if (/ENOTFOUND|EAI_AGAIN/.test(m))
    return `cannot connect to PACS ${nodeLabel(t.node)}: unknown host ${t.node.host}`;
  if (/EHOSTUNREACH|ENETUNREACH/.test(m))
    return `cannot connect to PACS ${nodeLabel(t.node)}: host unreachable`;
  if (/timeout/i.test(m))
    return `PACS ${nodeLabel(t.node)} did not answer within ${(t.timeoutMs ?? 15000) / 1000} s`;
  if (/ECONNRESET|EPIPE/.test(m)) return `PACS ${nodeLabel(t.node)} closed the connection`;
  return `PACS ${nodeLabel(t.node)}: ${m.replace(/^.* -> /, '')}`;
}

/** Non-success DIMSE statuses (PS3.4 C.4): the ones a PACS commonly gives, in words. */
export function statusText(status: number): string {
  const hex = `0x${status.toString(16).padStart(4, '0').toUpperCase()}`;
  if (status === 0x0124) return `refused: not authorised (${hex})`;
  if (status === 0xa700 || (status & 0xff00) === 0xa700) return `refused: out of resources (${hex})`;
  if (status === 0xa701 || status === 0xa702) return `refused: out of resources (${hex})`;
  if (status === 0xa801) return `refused: move destination unknown (${hex})`;
  if (status === 0xa900 || (status & 0xff00) === 0xa900)
    return `identifier does not match SOP class (${hex})`;
  if ((status & 0xf000) === 0xc000) return `unable to process (${hex})`;
  if (status === 0x0122) return `SOP class not supported (${hex})`;
  if (status === 0xfe00) return `cancelled (${hex})`;
  return `status ${hex}`;
}

type Request = InstanceType<typeof CEchoRequest>;

/**
 * Sends `requests` on one association; resolves when it is released, rejects with a message
 * naming the node. `signal` aborts the association (after a C-CANCEL for find/get).
 */
export function associate(
  t: DimseTarget,
  requests: Request[],
  what: string,
  setup?: (client: InstanceType<typeof Client>) => void,
  signal?: AbortSignal,
): Promise<void> {
  const timeout = t.timeoutMs ?? 15000;
  const { host, port, aet } = t.node;
  if (!host || !port || !aet)
    return Promise.reject(
      new QuorumError('bad-argument', `PACS ${t.node.name} has no AE title, host and port (DIMSE)`),
    );
  return new Promise((resolve, reject) => {
    const client = new Client();
    for (const r of requests) client.addRequest(r);
    setup?.(client);
    let failure: QuorumError | undefined;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      // dcmjs-dimse only half-closes the socket after a timeout or an abort; a PACS that never
      // answers would keep it (and a CLI process) open forever.
      if (failure)
        (client as unknown as { network?: { socket?: { destroy(): void } } }).network?.socket?.destroy();
      signal?.removeEventListener('abort', onAbort);
      if (failure) reject(failure);
      else resolve();
    };
    const fail = (e: QuorumError) => {
      failure ??= e;
    };
    client.on('associationRejected', (r: { result: number; source: number; reason: number }) =>
      fail(
        new QuorumError(
          'network',
          `PACS ${nodeLabel(t.node)} refused the association for ${what}: ${rejectReason(r, t)}`,
        ),
      ),
    );
    client.on('networkError', (e: Error) => {
      fail(new QuorumError('network', networkMessage(e, t)));
      finish();
    });
    client.on('closed', finish);
    const onAbort = () => {
      fail(new QuorumError('cancelled', `${what} cancelled`));
      try {
        for (const r of requests) if (r instanceof CFindRequest || r instanceof CGetRequest) client.cancel(r);
        client.abort();
      } catch {
        // not connected yet: the socket closes below
      }
      finish();
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort);
    client.send(host, port, t.localAet, aet, {
      connectTimeout: timeout,
      associationTimeout: timeout,
      pduTimeout: timeout,
    });
  });
}

export async function echo(t: DimseTarget): Promise<number> {
  const t0 = performance.now();
  const req = new CEchoRequest();
  let status: number | undefined;
  req.on('response', (r: { getStatus(): number }) => {
    status = r.getStatus();
  });
  await associate(t, [req], 'C-ECHO');
  if (status !== Status.Success)
    throw new QuorumError(
      'network',
      `PACS ${nodeLabel(t.node)} answered C-ECHO with ${status === undefined ? 'nothing' : statusText(status)}`,
    );
  return performance.now() - t0;
}

function str(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map(str).join('\\');
  if (typeof v === 'object' && 'Alphabetic' in (v as object))
    return String((v as { Alphabetic: string }).Alphabetic ?? '');
  return String(v).trim();
}

/** Study-level C-FIND keys from the search fields (empty = universal match). */
export function findKeys(q: PacsQuery): Record<string, string> {
  const date = q.studyDate?.trim() ?? '';
  if (date && !/^(\d{8})?(-(\d{8})?)?$/.test(date))
    throw new QuorumError(
      'bad-argument',
      `study date must be YYYYMMDD or a range YYYYMMDD-YYYYMMDD, got ${date}`,
    );
  return {
    PatientName: q.patientName?.trim() ?? '',
    PatientID: q.patientId?.trim() ?? '',
    StudyDate: date,
    ModalitiesInStudy: q.modality?.trim() ?? '',
    AccessionNumber: q.accession?.trim() ?? '',
  };
}

export async function find(t: DimseTarget, q: PacsQuery, signal?: AbortSignal): Promise<PacsStudy[]> {
  const req = CFindRequest.createStudyFindRequest(findKeys(q));
  const studies: PacsStudy[] = [];
  let final: number | undefined;
  req.on('response', (r: InstanceType<typeof CStoreResponse>) => {
    const s = r.getStatus();
    if ((s === Status.Pending || s === 0xff01) && r.hasDataset()) {
      const e = r.getDataset()!.getElements() as Record<string, unknown>;
      const n = (k: string) => (e[k] === undefined || e[k] === '' ? undefined : Number(e[k]));
      studies.push({
        studyInstanceUid: str(e.StudyInstanceUID),
        patientName: str(e.PatientName),
        patientId: str(e.PatientID),
        studyDate: str(e.StudyDate),
        studyDescription: str(e.StudyDescription),
        accession: str(e.AccessionNumber),
        modalities: str(e.ModalitiesInStudy).split('\\').filter(Boolean),
        series: n('NumberOfStudyRelatedSeries'),
        instances: n('NumberOfStudyRelatedInstances'),
      });
    } else if (s !== Status.Pending && s !== 0xff01) final = s;
  });
  await associate(t, [req], 'C-FIND', undefined, signal);
  if (final !== Status.Success)
    throw new QuorumError(
      'network',
      `PACS ${nodeLabel(t.node)} answered C-FIND with ${final === undefined ? 'nothing' : statusText(final)}`,
    );
  return studies.filter((s) => s.studyInstanceUid);
}

export interface TransferProgress {
  done: number;
  failed: number;
  /** Images still to come, as the PACS counts them (C-GET pending responses); 0 for C-STORE. */
  remaining: number;
}

/**
 * C-GET of a whole study. Each image is handed to `onImage` (its SOP instance UID and Part 10
 * bytes) before it is acknowledged, so an image the caller could not keep is reported to the
 * PACS as failed rather than silently dropped.
 */
export async function getStudy(
  t: DimseTarget,
  studyInstanceUid: string,
  onImage: (sopInstanceUid: string, bytes: Uint8Array) => void,
  onProgress: (p: TransferProgress) => void,
  signal?: AbortSignal,
): Promise<TransferProgress> {
  const req = CGetRequest.createStudyGetRequest(studyInstanceUid);
  const p: TransferProgress = { done: 0, failed: 0, remaining: 0 };
  let final: number | undefined;
  let keepError: Error | undefined;
  req.on('response', (r: InstanceType<typeof dimse.responses.CGetResponse>) => {
    const s = r.getStatus();
    p.remaining = r.getRemaining() ?? 0;
    if (s !== Status.Pending) {
      final = s;
      p.failed = Math.max(p.failed, r.getFailures() ?? 0);
    }
    onProgress({ ...p });
  });
  await associate(
    t,
    [req],
    'C-GET',
    (client) => {
      for (const uid of EXTRA_STORAGE_CLASSES) {
        const pc = new dimse.association.PresentationContext(0, uid);
        pc.addTransferSyntaxUid(dimse.constants.TransferSyntax.ImplicitVRLittleEndian);
        pc.addTransferSyntaxUid(dimse.constants.TransferSyntax.ExplicitVRLittleEndian);
        client.addAdditionalPresentationContext(pc);
      }
      client.on(
        'cStoreRequest',
        (request: InstanceType<typeof CStoreRequest>, callback: (r: unknown) => void) => {
          const response = CStoreResponse.fromRequest(request);
          try {
            const ds = request.getDataset()!;
            onImage(str(ds.getElement('SOPInstanceUID')), p10Bytes(ds));
            p.done++;
            response.setStatus(Status.Success);
          } catch (e) {
            keepError ??= e as Error;
            p.failed++;
            response.setStatus(0xa700);
          }
          callback(response);
          onProgress({ ...p, remaining: Math.max(0, p.remaining - 1) });
        },
      );
    },
    signal,
  );
  if (keepError) throw keepError;
  if (final === 0xfe00) throw new QuorumError('cancelled', 'C-GET cancelled');
  if (final !== Status.Success && final !== 0xb000)
    throw new QuorumError(
      'network',
      `PACS ${nodeLabel(t.node)} answered C-GET of study ${studyInstanceUid} with ${final === undefined ? 'nothing' : statusText(final)}` +
        (p.done === 0 && final === Status.Success ? '' : ` after ${p.done} image(s)`),
    );
  return requireImages(t, studyInstanceUid, p);
}

/** A retrieve that brought nothing is an error naming the node and the study (C-GET, C-MOVE, WADO-RS). */
export function requireImages(
  t: DimseTarget,
  studyInstanceUid: string,
  p: TransferProgress,
): TransferProgress {
  if (p.done === 0)
    throw new QuorumError(
      'not-found',
      `PACS ${nodeLabel(t.node)} sent no images for study ${studyInstanceUid}`,
    );
  return p;
}

/** C-STORE of DICOM files, one association; progress after each image. */
export async function storeFiles(
  t: DimseTarget,
  files: string[],
  onProgress: (p: TransferProgress) => void,
  signal?: AbortSignal,
): Promise<TransferProgress> {
  const p: TransferProgress = { done: 0, failed: 0, remaining: files.length };
  const failures: string[] = [];
  const reqs = files.map((f) => {
    const req = new CStoreRequest(f);
    req.on('response', (r: InstanceType<typeof CStoreResponse>) => {
      const s = r.getStatus();
      // Warnings (0xB000, 0xB007, 0xB006) still mean stored.
      if (s === Status.Success || (s & 0xf000) === 0xb000) p.done++;
      else {
        p.failed++;
        failures.push(`${f}: ${statusText(s)}`);
      }
      p.remaining--;
      onProgress({ ...p });
    });
    return req;
  });
  await associate(t, reqs, 'C-STORE', undefined, signal);
  if (failures.length)
    throw new QuorumError(
      'network',
      `PACS ${nodeLabel(t.node)} did not store ${failures.length} file(s): ${failures.join('; ')}`,
    );
  if (p.done !== files.length)
    throw new QuorumError(
      'network',
      `PACS ${nodeLabel(t.node)} confirmed ${p.done} of ${files.length} file(s)`,
    );
  return p;
}
