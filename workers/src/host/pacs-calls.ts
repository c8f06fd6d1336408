import { join } from 'node:path';
import type { ExportRequest, ExportResult, PacsEvent, PacsStoreRequest } from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import type { PacsService } from '../pacs/service.ts';
import type { OpenCase } from './propose-run.ts';

/**
 * Sends an open case's labels to a PACS: writes them as DICOM SEG into <stateDir>/pacs-outbox
 * (kept as a record of what was sent) and stores that file on the node.
 */
export async function storeCaseInPacs(
  pacs: PacsService,
  /** The case (throws when it is not open): looked up after the node, as the errors come in that order. */
  openCase: () => OpenCase,
  req: PacsStoreRequest,
  opts: { stateDir: string; export: (req: ExportRequest) => Promise<ExportResult> },
  onEvent: (e: PacsEvent) => void,
): Promise<{ transferId: string }> {
  pacs.target(req.node); // an unknown node fails before anything is written
  const c = openCase();
  if (!c.info.canExportDicomSeg)
    throw new QuorumError(
      'unsupported',
      'only a case opened from a DICOM series can be sent to a PACS as DICOM SEG',
    );
  const r = await opts.export({
    caseId: req.caseId,
    mask: req.mask,
    segments: req.segments,
    formats: ['dicom-seg'],
    targetDir: join(opts.stateDir, 'pacs-outbox'),
  });
  return pacs.store(req.node, [r.files['dicom-seg'] as string], onEvent);
}
