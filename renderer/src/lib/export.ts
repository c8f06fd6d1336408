import type { ExportFormat } from '../../../core/src/api.ts';
import type { Session } from './session.ts';
import type { SessionCore } from './session-core.ts';

/**
 * Exports the open case through the host: the labelmap as the mask (pending proposal voxels
 * included into the active segment when asked), the segment table, the uncertainty map when
 * there is a proposal, and which slices were edited or proposed. The result (or the error) is shown.
 */
export async function exportCase(
  s: Session,
  core: SessionCore,
  formats: ExportFormat[],
  includePending: boolean,
  targetDir?: string,
): Promise<void> {
  if (!s.caseInfo || !s.proposals || !s.history) return;
  core.set({ exporting: true, exportResult: undefined, error: undefined });
  try {
    const proposed = s.proposals.proposedSlices();
    const result = await s.api.export({
      caseId: s.caseInfo.id,
      formats,
      mask: s.proposals.exportMask(includePending, s.segments.active),
      segments: s.segments.list,
      uncertainty: proposed.length ? s.proposals.uncertainty : undefined,
      editedSlices: [...s.history.editedSlices].sort((a, b) => a - b),
      proposedSlices: proposed,
      targetDir: targetDir || undefined,
    });
    core.set({ exporting: false, exportResult: result });
  } catch (e) {
    s.fail(e);
  }
}
