import type { SequenceName } from './volume.ts';

/**
 * Which MRI sequence a file or DICOM series is, as sites name them, and why.
 *
 * Names are matched on lower-case tokens (separators become spaces, `+` is a token of its own, `*`
 * stays in `t2*`), so `t2_tirm_tra_dark-fluid`, `Ax T2 FLAIR`, `3D_FLAIR`, `BraTS_..._fla_bet` and
 * BIDS `sub-01_ce-gd_T1w` all reduce to a few words. The table is ordered: the first rule that
 * matches decides, so what must not be taken (localisers, calibration scans, labels, masks, derived
 * series, sequences the model has no use for such as DWI or SWI) comes before the four sequences,
 * and T1-weighted FLAIR before FLAIR. A T1 becomes T1c on contrast evidence (see CONTRAST).
 */
export type SeriesRole =
  | 'sequence'
  | 'localizer'
  | 'calibration'
  | 'label'
  | 'mask'
  | 'derived'
  | 'other'
  | 'unrecognised';

interface NamingRule {
  id: string;
  role: SeriesRole;
  sequence?: Exclude<SequenceName, 'unknown'>;
  /** Matched against normalised text; the match (group 0) is quoted in the reason. */
  match: RegExp;
  /** Only file names can be labels or masks: a DICOM series is never one by its description. */
  fileOnly?: boolean;
  why: string;
}

export const NAMING_RULES = [
  {
    id: 'localizer',
    role: 'localizer',
    match: /localizer|localiser|scout|survey|tripilot|smartbrain|(?:^| )(?:loc|3 ?plane|3pl|pilot)(?= |$)/,
    why: 'a localiser (positioning scan), not diagnostic',
  },
  {
    id: 'calibration',
    role: 'calibration',
    match:
      /senseref|calibration|(?:^| )(?:asset cal|cal|sense ref|refscan|ref scan|coil survey|prescan|b1 ?map|shim)(?= |$)/,
    why: 'a coil calibration or reference scan',
  },
  {
    id: 'label',
    role: 'label',
    fileOnly: true,
    match:
      /otmulticlass|(?:^| )(?:seg|segmentation[a-z]*|labels?|gt|truth|groundtruth|annotations?|lesion|tumou?r)(?= |$)/,
    why: 'a label (segmentation), used as the reference annotation',
  },
  {
    id: 'mask',
    role: 'mask',
    fileOnly: true,
    match: /mask/,
    why: 'a mask (brain extraction or other), not an image',
  },
  {
    id: 'derived',
    role: 'derived',
    match:
      /(?:^| )(?:mpr|mprs|reformat|reformatted|adc|eadc|trace|tracew|colfa|mip|minip|mnip|sub|subtraction|subtracted|maps?|rcbv|cbv|cbf|mtt|ttp|tmax|moco|mocoseries|screenshot|screen save|report|vr)(?= |$)/,
    why: 'a derived series (reformat, parameter map or subtraction), not an acquisition',
  },
  {
    // Siemens names STIR `t2_tirm_cor` too: STIR before FLAIR's `tirm`
    id: 'stir',
    role: 'other',
    match: /(?:^| )stir(?= |$)/,
    why: 'STIR (short-TI inversion recovery, fat-suppressed), not FLAIR: the model does not use it',
  },
  {
    id: 'other',
    role: 'other',
    match:
      /ep2d|(?:^| )(?:dwi|diff|diffusion|dti|tensor|resolve|epi|bold|fmri|rsfmri|perf|perfusion|dsc|dce|asl|pcasl|pasl|tof|mra|angio|swi|swan|t2\*|t2 ?star|t2starw|hemo|pd|pdw|svs|csi|mrs|spectroscopy|cest|fieldmap|field map|b0map)(?= |$)/,
    why: 'a sequence the model does not use (diffusion, functional, perfusion, angiography, susceptibility, PD, STIR, spectroscopy)',
  },
  {
    id: 't1-flair',
    role: 'sequence',
    sequence: 't1',
    match: /(?:^| )t1w? ?flair/,
    why: 'T1-weighted FLAIR (GE/Philips T1 FLAIR) is T1-weighted',
  },
  {
    id: 'flair',
    role: 'sequence',
    sequence: 'flair',
    match: /flair|(?:^| )(?:fla|t2f|t2 fl|dark fluid|darkfluid|da fl|dafl|spcir|tirm)(?= |$)/,
    why: 'T2-FLAIR (fluid-attenuated inversion recovery, Siemens dark-fluid/TIRM, BraTS fla/t2f)',
  },
  {
    id: 't1',
    role: 'sequence',
    sequence: 't1',
    match:
      /(?:^| )t1(?![0-9*])[a-z+]*|mprage|mp2rage|spgr|bravo|(?:^| )(?:tfe|tfl|vibe|flash|fl3d|fl2d|fspgr)(?= |$)/,
    why: 'T1-weighted (T1, MPRAGE, SPGR/BRAVO, TFE, VIBE, FLASH)',
  },
  {
    id: 't2',
    role: 'sequence',
    sequence: 't2',
    match: /(?:^| )t2(?![0-9*])[a-z]*|(?:^| )(?:tse|fse|frfse|ssfse|propeller|blade|haste|space|cube)(?= |$)/,
    why: 'T2-weighted (T2, TSE/FSE, PROPELLER/BLADE, SPACE/CUBE)',
  },
] as const satisfies readonly NamingRule[];

export type NamingRuleId = (typeof NAMING_RULES)[number]['id'];

/** Contrast agent in a name: `+C`, `+GD`, `KM` (Kontrastmittel), `post`, `ce`, BIDS `ce-`, T1c/T1ce/T1gd. */
const CONTRAST =
  /(?:^| )(?:\+(?: (?:c|gd|gad|ce|km|contrast))?|ce|gd|gad|gado|gadolinium|contrast|postcontrast|post|postgd|km|kontrast|mdc|enhanced|dotarem|gadovist|magnevist|multihance|prohance|clariscan|omniscan)(?= |$)|(?:^| )t1w?(?:c|ce|gd|km|post|gad|cegd)(?= |$)/;
/** Explicitly without contrast: wins over CONTRAST (`T1 pre Gd` is native). */
const NATIVE =
  /(?:^| )(?:pre|precontrast|pregd|native|nativ|t1n|noncontrast|non contrast|wo|w o|without|plain)(?= |$)/;

/** What is known about a file or series. Every field is optional. */
export interface SeriesEvidence {
  /** File (or folder) name; BraTS, BIDS and free naming. */
  fileName?: string;
  /** DICOM SeriesDescription (0008,103E). */
  seriesDescription?: string;
  /** DICOM ProtocolName (0018,1030). */
  protocolName?: string;
  /** NIfTI descrip. */
  description?: string;
  /** DICOM ImageType (0008,0008), backslash-separated. */
  imageType?: string;
  /** DICOM SequenceName (0018,0024), e.g. Siemens `*tir2d1_16`, `*tfl3d1`. */
  sequenceName?: string;
  /** DICOM ScanningSequence (0018,0020): SE, IR, GR, EP, RM. */
  scanningSequence?: string;
  /** DICOM ContrastBolusAgent (0018,0010). */
  contrastAgent?: string;
  /** Enhanced MR's AcquisitionContrast (0008,9209), the scanner's own word for the weighting. */
  acquisitionContrast?: string;
  /** ms */
  inversionTime?: number;
  repetitionTime?: number;
  echoTime?: number;
}

export interface SequenceDecision {
  /** The sequence taken; 'unknown' for anything not taken as a sequence. */
  sequence: SequenceName;
  role: SeriesRole;
  /** Which rule decided (a NAMING_RULES id, or an attribute rule). */
  rule: NamingRuleId | 'image-type' | 'attributes' | 'none';
  reason: string;
}

/** Lower-case words: separators to spaces, `+` its own token; BIDS entities other than `ce-` dropped. */
export function normaliseName(text: string, isFile = false): string {
  let s = text.toLowerCase();
  if (isFile) {
    s = s.split(/[\\/]/).pop() ?? s;
    s = s.replace(/(\.(nii|hdr|img|dcm|nrrd|mha|mhd|gz))+$/g, '');
    // BIDS key-value entities name the subject or session, not the sequence; ce-<agent> is contrast
    s = s.replace(/(^|_)(sub|ses|run|acq|rec|echo|part|dir|task|space|desc)-[a-z0-9]+/g, '$1');
    s = s.replace(/(^|_)ce-[a-z0-9]+/g, '$1contrast');
  }
  return s
    .replace(/\+/g, ' + ')
    .replace(/[^a-z0-9+*]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

interface Text {
  label: string;
  raw: string;
  norm: string;
  file: boolean;
}

function texts(e: SeriesEvidence): Text[] {
  const out: Text[] = [];
  const add = (label: string, raw: string | undefined, file = false) => {
    if (raw?.trim()) out.push({ label, raw: raw.trim(), norm: normaliseName(raw, file), file });
  };
  add('SeriesDescription', e.seriesDescription);
  add('ProtocolName', e.protocolName);
  add('file name', e.fileName, true);
  add('description', e.description);
  return out;
}

/** Contrast evidence across names and ContrastBolusAgent: [has contrast, why]. */
function contrastOf(e: SeriesEvidence, ts: Text[]): [boolean, string] {
  for (const t of ts) {
    const m = NATIVE.exec(t.norm);
    if (m) return [false, `no contrast (${t.label} says "${m[0].trim()}")`];
  }
  for (const t of ts) {
    const m = CONTRAST.exec(t.norm);
    if (m) return [true, `contrast-enhanced (${t.label} "${m[0].trim()}")`];
  }
  const agent = e.contrastAgent?.trim();
  if (agent && !/^(none|no|n\/a|-)$/i.test(agent))
    return [true, `contrast-enhanced (ContrastBolusAgent "${agent}")`];
  return [false, 'no contrast agent named'];
}

function taken(seq: 'flair' | 't1' | 't2', e: SeriesEvidence, ts: Text[], why: string): SequenceDecision {
  const [contrast, cwhy] = contrastOf(e, ts);
  if (seq === 't1')
    return {
      sequence: contrast ? 't1c' : 't1',
      role: 'sequence',
      rule: 'none',
      reason: `${why}; ${cwhy}`,
    };
  // A post-contrast FLAIR or T2 is still that sequence for the model; say so.
  return { sequence: seq, role: 'sequence', rule: 'none', reason: contrast ? `${why}; ${cwhy}` : why };
}

/** Attribute rules, for series whose names say nothing (e.g. `ax_asc_35sl`). */
function fromAttributes(e: SeriesEvidence, ts: Text[]): SequenceDecision | undefined {
  const seqName = e.sequenceName?.trim().toLowerCase() ?? '';
  const scanning = e.scanningSequence?.toUpperCase() ?? '';
  const ti = e.inversionTime ?? 0;
  const tr = e.repetitionTime ?? 0;
  const te = e.echoTime ?? 0;
  const other = (why: string): SequenceDecision => ({
    sequence: 'unknown',
    role: 'other',
    rule: 'attributes',
    reason: `${why}: a sequence the model does not use`,
  });
  const named = (seq: 'flair' | 't1' | 't2', why: string) => ({
    ...taken(seq, e, ts, why),
    rule: 'attributes' as const,
  });
  // the scanner says the weighting (enhanced MR): more direct than guessing it from TR, TE and TI
  const contrast = e.acquisitionContrast?.trim().toUpperCase() ?? '';
  const said = `AcquisitionContrast ${contrast}`;
  if (contrast === 'FLUID_ATTENUATED') return named('flair', `${said} (FLAIR)`);
  if (contrast === 'T1') return named('t1', `${said} (T1-weighted)`);
  if (contrast === 'T2') return named('t2', `${said} (T2-weighted)`);
  if (/^(DIFFUSION|PERFUSION|FLOW_ENCODED|TOF|TAGGING|STIR|T2_STAR|PROTON_DENSITY)$/.test(contrast))
    return other(said);
  if (/^\*?ep/.test(seqName) || /\bEP\b/.test(scanning))
    return other(
      `echo-planar (${seqName ? `SequenceName ${e.sequenceName}` : `ScanningSequence ${scanning}`})`,
    );
  // FLAIR nulls fluid with a long inversion (TI ~1.5-2.8 s at 1.5-3 T); STIR's TI is ~0.15 s.
  if (ti >= 1500 && (tr === 0 || tr >= 4000))
    return named(
      'flair',
      `inversion recovery with TI ${ti} ms${tr ? `, TR ${tr} ms` : ''} (fluid nulled: FLAIR)`,
    );
  if (/^\*?(spcir|tir)/.test(seqName) && ti >= 1500)
    return named('flair', `Siemens SequenceName ${e.sequenceName} with TI ${ti} ms (FLAIR)`);
  if (/^\*?(tfl|fl3d|fl2d)/.test(seqName))
    return named('t1', `Siemens SequenceName ${e.sequenceName} (turbo FLASH / FLASH: T1-weighted)`);
  if (ti >= 300 && ti < 1300 && te > 0 && te < 15)
    return named('t1', `inversion-prepared with TI ${ti} ms, TE ${te} ms (T1-weighted, MPRAGE-like)`);
  if (tr > 0 && te > 0 && tr <= 800 && te <= 20)
    return named('t1', `short TR ${tr} ms and TE ${te} ms (T1-weighted)`);
  if (tr >= 2000 && te >= 70 && ti < 300)
    return named('t2', `long TR ${tr} ms and TE ${te} ms (T2-weighted)`);
  return undefined;
}

/** Decides what a file or series is, with the reason. The first matching rule wins. */
export function classifySeries(e: SeriesEvidence): SequenceDecision {
  const ts = texts(e);
  const imageType = (e.imageType ?? '').toUpperCase().split('\\');
  if (imageType.includes('LOCALIZER'))
    return {
      sequence: 'unknown',
      role: 'localizer',
      rule: 'image-type',
      reason: 'ImageType LOCALIZER: a localiser',
    };
  if (imageType[0] === 'DERIVED')
    return {
      sequence: 'unknown',
      role: 'derived',
      rule: 'image-type',
      reason: `ImageType ${e.imageType}: derived (reformat, map or post-processing), not an acquisition`,
    };
  for (const t of ts) {
    for (const rule of NAMING_RULES as readonly NamingRule[]) {
      if ('fileOnly' in rule && rule.fileOnly && !t.file) continue;
      const m = rule.match.exec(t.norm);
      if (!m) continue;
      const why = `${t.label} "${t.raw}" ("${m[0].trim()}"): ${rule.why}`;
      if (rule.role === 'sequence' && rule.sequence)
        return {
          ...taken(rule.sequence as 'flair' | 't1' | 't2', e, ts, why),
          rule: rule.id as NamingRuleId,
        };
      return { sequence: 'unknown', role: rule.role, rule: rule.id as NamingRuleId, reason: why };
    }
  }
  const attr = fromAttributes(e, ts);
  if (attr) return attr;
  const said = ts.map((t) => `${t.label} "${t.raw}"`).join(', ');
  return {
    sequence: 'unknown',
    role: 'unrecognised',
    rule: 'none',
    reason: `sequence not recognised from ${said || 'an empty name'} (assign it explicitly)`,
  };
}

/** The sequence of a file name and/or a description ('unknown' when not taken as a sequence). */
export function detectSequence(name: string, seriesDescription?: string): SequenceName {
  return classifySeries({ fileName: name || undefined, seriesDescription }).sequence;
}

/** Files that are labels or masks, not sequences (BraTS seg, DeepMedic OTMultiClass). */
export function isLabelFile(name: string): boolean {
  return classifySeries({ fileName: name }).role === 'label';
}

export function isBrainMaskFile(name: string): boolean {
  return classifySeries({ fileName: name }).role === 'mask';
}
