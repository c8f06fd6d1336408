import { readFileSync } from 'node:fs';
import dicomParser from 'dicom-parser';
import type { PacsQuery, PacsStudy } from '../../../core/src/api-pacs.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { type DimseTarget, findKeys, nodeLabel, requireImages, type TransferProgress } from './dimse.ts';

/**
 * DICOMweb with a configured node: QIDO-RS (search), WADO-RS (retrieve a study as
 * multipart/related application/dicom), STOW-RS (store). dicomweb-client, the kept library for
 * this, is built on the browser's XMLHttpRequest, which Node 20 does not have, and the host is a
 * Node process (the renderer talks only to the host), so these few standard requests are made
 * with Node's fetch. Requests go to the node's base URL only; redirects are refused, so nothing
 * is sent to any other address.
 */
type Json = Record<string, { vr?: string; Value?: unknown[] }>;

function base(t: DimseTarget): string {
  if (!t.node.dicomweb) throw new QuorumError('bad-argument', `PACS ${t.node.name} has no DICOMweb URL`);
  return t.node.dicomweb;
}

function fetchError(e: unknown, t: DimseTarget, signal?: AbortSignal): QuorumError {
  if (signal?.aborted) return new QuorumError('cancelled', 'cancelled');
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const code = err.cause?.code ?? '';
  const label = nodeLabel(t.node);
  if (err.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return new QuorumError(
      'network',
      `PACS ${label} did not answer within ${(t.timeoutMs ?? 15000) / 1000} s`,
    );
  if (code === 'ECONNREFUSED')
    return new QuorumError(
      'network',
      `cannot connect to PACS ${label}: connection refused (is it running, is the URL right?)`,
    );
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new QuorumError('network', `cannot connect to PACS ${label}: unknown host`);
  if (code === 'ECONNRESET') return new QuorumError('network', `PACS ${label} closed the connection`);
  return new QuorumError('network', `PACS ${label}: ${err.cause?.message ?? err.message}`);
}

/** fetch to the node, with a timeout (until the headers) and the caller's cancel. */
async function request(
  t: DimseTarget,
  path: string,
  init: RequestInit,
  what: string,
  signal?: AbortSignal,
): Promise<Response> {
  const timeout = AbortSignal.timeout(t.timeoutMs ?? 15000);
  const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let r: Response;
  try {
    r = await fetch(base(t) + path, { ...init, redirect: 'error', signal: both });
  } catch (e) {
    throw fetchError(
      timeout.aborted ? Object.assign(new Error('timeout'), { name: 'TimeoutError' }) : e,
      t,
      signal,
    );
  }
  if (!r.ok) {
    const body = (await r.text().catch(() => '')).slice(0, 300).replace(/\s+/g, ' ').trim();
    const why =
      r.status === 401 || r.status === 403 ? 'refused (not authorised)' : `HTTP ${r.status} ${r.statusText}`;
    throw new QuorumError(
      'network',
      `PACS ${nodeLabel(t.node)} answered ${what} with ${why}${body ? `: ${body}` : ''}`,
    );
  }
  return r;
}

function str(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object' && 'Alphabetic' in (v as object))
    return String((v as { Alphabetic: string }).Alphabetic ?? '');
  return String(v);
}
const first = (ds: Json, tag: string) => str(ds[tag]?.Value?.[0]);
const all = (ds: Json, tag: string) => (ds[tag]?.Value ?? []).map(str);

export async function qidoFind(t: DimseTarget, q: PacsQuery, signal?: AbortSignal): Promise<PacsStudy[]> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(findKeys(q))) if (v) params.append(k, v);
  for (const f of [
    'StudyDescription',
    'NumberOfStudyRelatedSeries',
    'NumberOfStudyRelatedInstances',
    'ModalitiesInStudy',
  ])
    params.append('includefield', f);
  const r = await request(
    t,
    `/studies?${params}`,
    { headers: { Accept: 'application/dicom+json' } },
    'QIDO-RS',
    signal,
  );
  const text = await r.text();
  const list = (text.trim() ? JSON.parse(text) : []) as Json[];
  const n = (ds: Json, tag: string) => (ds[tag]?.Value?.length ? Number(ds[tag].Value![0]) : undefined);
  return list
    .map((ds) => ({
      studyInstanceUid: first(ds, '0020000D'),
      patientName: first(ds, '00100010'),
      patientId: first(ds, '00100020'),
      studyDate: first(ds, '00080020'),
      studyDescription: first(ds, '00081030'),
      accession: first(ds, '00080050'),
      modalities: all(ds, '00080061'),
      series: n(ds, '00201206'),
      instances: n(ds, '00201208'),
    }))
    .filter((s) => s.studyInstanceUid);
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = Math.max(0, from); i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * WADO-RS of a whole study: the multipart response is read as it arrives and each part (one
 * DICOM file) is handed to `onImage` as soon as it is complete, for per-image progress.
 */
export async function wadoGetStudy(
  t: DimseTarget,
  studyInstanceUid: string,
  onImage: (sopInstanceUid: string, bytes: Uint8Array) => void,
  onProgress: (p: TransferProgress) => void,
  signal?: AbortSignal,
): Promise<TransferProgress> {
  const found = await qidoFind(t, {}, signal).then((s) =>
    s.find((x) => x.studyInstanceUid === studyInstanceUid),
  );
  const total = found?.instances ?? 0;
  const r = await request(
    t,
    `/studies/${studyInstanceUid}`,
    { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } },
    `WADO-RS of study ${studyInstanceUid}`,
    signal,
  );
  const boundary = /boundary="?([^";]+)"?/i.exec(r.headers.get('content-type') ?? '')?.[1];
  if (!boundary)
    throw new QuorumError(
      'network',
      `PACS ${nodeLabel(t.node)} answered WADO-RS without a multipart boundary`,
    );
  const delim = new TextEncoder().encode(`--${boundary}`);
  const p: TransferProgress = { done: 0, failed: 0, remaining: total };
  let buf = new Uint8Array(0);
  const reader = r.body!.getReader();
  // A body that stops arriving is a timeout too (the request's own timeout ends with the headers).
  let idle: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => void reader.cancel(new Error('timeout')), t.timeoutMs ?? 15000);
  };
  try {
    arm();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw fetchError(e, t, signal);
      }
      if (chunk.done) break;
      arm();
      const next = new Uint8Array(buf.length + chunk.value.length);
      next.set(buf);
      next.set(chunk.value, buf.length);
      buf = next;
      // Complete parts: from one delimiter to the next.
      for (;;) {
        const start = indexOf(buf, delim, 0);
        if (start < 0) break;
        const end = indexOf(buf, delim, start + delim.length);
        if (end < 0) break;
        const part = buf.subarray(start + delim.length, end);
        const headerEnd = indexOf(part, new Uint8Array([13, 10, 13, 10]), 0);
        if (headerEnd >= 0) {
          let body = part.subarray(headerEnd + 4);
          if (body.length >= 2 && body[body.length - 2] === 13 && body[body.length - 1] === 10)
            body = body.subarray(0, body.length - 2);
          const bytes = body.slice();
          const ds = dicomParser.parseDicom(bytes, { untilTag: 'x7fe00010' });
          onImage(ds.string('x00080018') ?? '', bytes);
          p.done++;
          p.remaining = Math.max(0, total - p.done);
          onProgress({ ...p });
        }
        buf = buf.slice(end);
      }
    }
  } finally {
    clearTimeout(idle);
  }
  if (signal?.aborted) throw new QuorumError('cancelled', 'WADO-RS cancelled');
  if (total && p.done < total)
    throw new QuorumError(
      'network',
      `PACS ${nodeLabel(t.node)} sent ${p.done} of the ${total} image(s) of study ${studyInstanceUid}`,
    );
  return requireImages(t, studyInstanceUid, p);
}

/** STOW-RS, one request per file (so progress is per image and a refusal names its file). */
export async function stowStore(
  t: DimseTarget,
  files: string[],
  onProgress: (p: TransferProgress) => void,
  signal?: AbortSignal,
): Promise<TransferProgress> {
  const p: TransferProgress = { done: 0, failed: 0, remaining: files.length };
  for (const f of files) {
    const boundary = `quorum-${crypto.randomUUID()}`;
    const head = new TextEncoder().encode(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
    const tail = new TextEncoder().encode(`\r\n--${boundary}--\r\n`);
    const file = readFileSync(f);
    const body = new Uint8Array(head.length + file.length + tail.length);
    body.set(head);
    body.set(file, head.length);
    body.set(tail, head.length + file.length);
    const r = await request(
      t,
      '/studies',
      {
        method: 'POST',
        headers: {
          'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
          Accept: 'application/dicom+json',
        },
        body,
      },
      `STOW-RS of ${f}`,
      signal,
    );
    const text = await r.text();
    const reply = (text.trim() ? JSON.parse(text) : {}) as Json;
    // (0008,1198) Failed SOP Sequence: the node refused this instance (200 or 202 may still carry it).
    const failed = reply['00081198']?.Value?.length ?? 0;
    if (failed) {
      const reason = (reply['00081198'].Value![0] as Json)['00081197']?.Value?.[0];
      throw new QuorumError(
        'network',
        `PACS ${nodeLabel(t.node)} did not store ${f}${reason !== undefined ? ` (failure reason ${reason})` : ''}`,
      );
    }
    p.done++;
    p.remaining--;
    onProgress({ ...p });
  }
  return p;
}

/** A QIDO-RS request that matches at most one study: the DICOMweb counterpart of C-ECHO. */
export async function qidoEcho(t: DimseTarget): Promise<number> {
  const t0 = performance.now();
  await request(t, '/studies?limit=1', { headers: { Accept: 'application/dicom+json' } }, 'QIDO-RS');
  return performance.now() - t0;
}
