import dimse from 'dcmjs-dimse';
import { QuorumError } from '../../../core/src/errors.ts';
import {
  associate,
  type DimseTarget,
  nodeLabel,
  requireImages,
  statusText,
  type TransferProgress,
} from './dimse.ts';
import { p10Bytes } from './p10.ts';

/**
 * C-MOVE, for a PACS that does not offer C-GET: Quorum asks the node to send the study to
 * Quorum's own AE title, and receives the images with a storage SCP (dcmjs-dimse's Server) that
 * listens on the node's `movePort` only while the move runs. The SCP accepts only the node's AE
 * title calling Quorum's; the PACS must list Quorum's AE title with this workstation's address and
 * that port as a modality (its "move destination").
 */
const { Server, Scp } = dimse;
const { CMoveRequest } = dimse.requests;
const { CEchoResponse, CStoreResponse } = dimse.responses;
const { Status, PresentationContextResult, RejectResult, RejectSource, RejectReason, TransferSyntax } =
  dimse.constants;

type Dataset = InstanceType<typeof dimse.Dataset>;

/** A storage SCP class bound to one move: who may call, and where the images go. */
function storageScp(callingAet: string, calledAet: string, onDataset: (ds: Dataset) => void) {
  return class extends Scp {
    association?: InstanceType<typeof dimse.association.Association>;
    override associationRequested(a: InstanceType<typeof dimse.association.Association>) {
      this.association = a;
      if (a.getCalledAeTitle().trim() !== calledAet)
        return this.sendAssociationReject(
          RejectResult.Permanent,
          RejectSource.ServiceUser,
          RejectReason.CalledAeNotRecognized,
        );
      if (a.getCallingAeTitle().trim() !== callingAet)
        return this.sendAssociationReject(
          RejectResult.Permanent,
          RejectSource.ServiceUser,
          RejectReason.CallingAeNotRecognized,
        );
      for (const { id } of a.getPresentationContexts()) {
        const pc = a.getPresentationContext(id);
        const offered = pc.getTransferSyntaxUids();
        // Images are kept in the syntax they come in; uncompressed explicit VR is preferred.
        const ts = offered.includes(TransferSyntax.ExplicitVRLittleEndian)
          ? TransferSyntax.ExplicitVRLittleEndian
          : offered[0];
        if (ts) pc.setResult(PresentationContextResult.Accept, ts);
        else pc.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      }
      this.sendAssociationAccept();
    }
    override associationReleaseRequested() {
      this.sendAssociationReleaseResponse();
    }
    override cEchoRequest(
      request: InstanceType<typeof dimse.requests.CEchoRequest>,
      callback: (r: never) => void,
    ) {
      const r = CEchoResponse.fromRequest(request);
      r.setStatus(Status.Success);
      callback(r as never);
    }
    override cStoreRequest(
      request: InstanceType<typeof dimse.requests.CStoreRequest>,
      callback: (r: never) => void,
    ) {
      const r = CStoreResponse.fromRequest(request);
      try {
        onDataset(request.getDataset()!);
        r.setStatus(Status.Success);
      } catch {
        r.setStatus(0xa700);
      }
      callback(r as never);
    }
  };
}

export async function moveStudy(
  t: DimseTarget,
  studyInstanceUid: string,
  onImage: (sopInstanceUid: string, bytes: Uint8Array) => void,
  onProgress: (p: TransferProgress) => void,
  signal?: AbortSignal,
): Promise<TransferProgress> {
  const port = t.node.movePort;
  if (!port)
    throw new QuorumError(
      'bad-argument',
      `PACS ${t.node.name}: C-MOVE needs movePort (where Quorum listens)`,
    );
  const p: TransferProgress = { done: 0, failed: 0, remaining: 0 };
  let keepError: Error | undefined;
  const server = new Server(
    storageScp(t.node.aet ?? '', t.localAet, (ds) => {
      try {
        onImage(String(ds.getElement('SOPInstanceUID') ?? ''), p10Bytes(ds));
        p.done++;
        onProgress({ ...p, remaining: Math.max(0, p.remaining - 1) });
      } catch (e) {
        keepError ??= e as Error;
        p.failed++;
        throw e;
      }
    }) as unknown as typeof Scp,
  );
  await new Promise<void>((ok, fail) => {
    server.on('listening', ok);
    server.on('networkError', (e: Error & { code?: string }) =>
      fail(
        new QuorumError(
          'network',
          `cannot receive the C-MOVE from PACS ${nodeLabel(t.node)}: port ${port} ${e.code === 'EADDRINUSE' ? 'is in use' : `failed (${e.message})`}`,
        ),
      ),
    );
    server.listen(port);
  });
  try {
    const req = CMoveRequest.createStudyMoveRequest(t.localAet, studyInstanceUid);
    let final: number | undefined;
    let failures = 0;
    req.on('response', (r: InstanceType<typeof dimse.responses.CMoveResponse>) => {
      const s = r.getStatus();
      p.remaining = r.getRemaining() ?? 0;
      if (s !== Status.Pending) {
        final = s;
        failures = r.getFailures() ?? 0;
      }
      onProgress({ ...p });
    });
    await associate(t, [req], 'C-MOVE', undefined, signal);
    if (keepError) throw keepError;
    if (final === 0xfe00) throw new QuorumError('cancelled', 'C-MOVE cancelled');
    if (final === 0xa801)
      throw new QuorumError(
        'network',
        `PACS ${nodeLabel(t.node)} does not know the move destination ${t.localAet}: add Quorum's AE title with this workstation's address and port ${port} to its modalities`,
      );
    if (final !== Status.Success && final !== 0xb000)
      throw new QuorumError(
        'network',
        `PACS ${nodeLabel(t.node)} answered C-MOVE of study ${studyInstanceUid} with ${final === undefined ? 'nothing' : statusText(final)} after ${p.done} image(s)${failures ? `, ${failures} failed` : ''}`,
      );
    return { ...requireImages(t, studyInstanceUid, p), failed: Math.max(p.failed, failures) };
  } finally {
    server.close();
  }
}
