import type dicomParser from 'dicom-parser';
import { type DicomImage, num, nums, orientation } from './parse.ts';

/**
 * Enhanced (multi-frame) MR, CT and PET objects: a whole series, often several volumes, in one file,
 * each frame placed by its functional groups (PS3.3 C.7.6.16) instead of per-file attributes. Each
 * frame becomes an image of its own here, with the position, orientation, pixel spacing, rescale,
 * echo and temporal index its per-frame group says (else the shared group's), so the series code
 * sorts, stacks and picks the first volume as for one file per slice.
 */

type Ds = dicomParser.DataSet;

/** The first item of sequence `tag` in `ds`. */
const item = (ds: Ds | undefined, tag: string): Ds | undefined =>
  (ds?.elements[tag] as { items?: { dataSet?: Ds }[] } | undefined)?.items?.[0]?.dataSet;

/** The frames of `im` as images; `im` itself when it is one frame or has no functional groups. */
export function expandFrames(im: DicomImage): DicomImage[] {
  const ds = im.dataSet;
  const perFrame = (ds.elements.x52009230 as { items?: { dataSet?: Ds }[] } | undefined)?.items;
  if (im.frames <= 1 || !perFrame?.length) return [im];
  const shared = item(ds, 'x52009229');
  // an attribute of a functional group: the frame's own, else the shared one
  const group = (frame: Ds | undefined, seq: string) => item(frame, seq) ?? item(shared, seq);
  return Array.from({ length: im.frames }, (_, f): DicomImage => {
    const fr = perFrame[f]?.dataSet;
    const position = nums(group(fr, 'x00209113') ?? ds, 'x00200032');
    const orient = nums(group(fr, 'x00209116') ?? ds, 'x00200037');
    const measures = group(fr, 'x00289110');
    const spacing = measures && nums(measures, 'x00280030');
    const transform = group(fr, 'x00289145');
    const content = item(fr, 'x00209111');
    const echo = group(fr, 'x00189114');
    const timing = group(fr, 'x00189112');
    const modifier = group(fr, 'x00189115');
    const frameType = group(fr, 'x00189226');
    const usage = group(fr, 'x00189341');
    return {
      ...im,
      frame: f,
      imagePosition: position?.length === 3 ? (position as [number, number, number]) : im.imagePosition,
      imageOrientation: orient ? orientation(orient, im.file) : im.imageOrientation,
      pixelSpacing:
        spacing && spacing.length >= 2 && spacing[0] > 0 && spacing[1] > 0
          ? [spacing[0], spacing[1]]
          : im.pixelSpacing,
      sliceThickness: measures
        ? Math.max(0, num(measures, 'x00180050', im.sliceThickness))
        : im.sliceThickness,
      spacingBetweenSlices: measures
        ? Math.max(0, num(measures, 'x00180088', im.spacingBetweenSlices))
        : im.spacingBetweenSlices,
      rescaleSlope: transform ? num(transform, 'x00281053', 1) || 1 : im.rescaleSlope,
      rescaleIntercept: transform ? num(transform, 'x00281052', 0) : im.rescaleIntercept,
      // EffectiveEchoTime is FD and TemporalPositionIndex UL: binary, not strings
      echoTime: echo?.elements.x00189082 ? (echo.double('x00189082') ?? im.echoTime) : im.echoTime,
      temporalPosition: content?.elements.x00209128
        ? (content.uint32('x00209128') ?? im.temporalPosition)
        : im.temporalPosition,
      // what sequence recognition reads (core/src/sequence.ts), where enhanced MR keeps it
      repetitionTime: timing ? num(timing, 'x00180080', im.repetitionTime) : im.repetitionTime,
      // InversionTimes is FD (several for multi-inversion sequences: the first)
      inversionTime: modifier?.elements.x00189079
        ? (modifier.double('x00189079') ?? im.inversionTime)
        : im.inversionTime,
      acquisitionContrast: frameType?.string('x00089209') ?? im.acquisitionContrast,
      contrastAgent:
        im.contrastAgent ||
        (usage?.string('x00189342')?.toUpperCase() === 'YES' ? 'administered (Contrast/Bolus Usage)' : ''),
      // frames of one position in file order: the first is the first volume's
      instanceNumber: f,
    };
  });
}
