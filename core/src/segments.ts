/**
 * Segments of a case: the labelled structures a labelmap holds (whole tumour, enhancing, necrosis,
 * edema, or user-named), each a label value 1..MAX_SEGMENT_VALUE with a name, a colour, and its
 * visibility and lock. Pure data and one reducer, shared by the renderer (case state, journal
 * replay), the host (export validation) and the exporters (NIfTI sidecar, DICOM SEG segments).
 */

export type Rgb = [number, number, number];

export interface SegmentInfo {
  /** The label value of its voxels in the labelmap and in a NIfTI export (1..MAX_SEGMENT_VALUE). */
  value: number;
  name: string;
  colour: Rgb;
  /** Hidden segments are not drawn; they are still exported. */
  visible: boolean;
  /** Locked segments' voxels are never changed by a tool or an accepted proposal. */
  locked: boolean;
}

/**
 * The preset segments, in the order the "add" menu lists them. Whole tumour keeps the red the
 * single lesion label always had, so a case from before segments looks as it did.
 */
export const SEGMENT_PRESETS = [
  { name: 'Whole tumour', colour: [255, 40, 40] },
  { name: 'Enhancing', colour: [255, 210, 0] },
  { name: 'Necrosis', colour: [170, 90, 255] },
  { name: 'Edema', colour: [40, 170, 255] },
] as const satisfies readonly { name: string; colour: Rgb }[];
export type SegmentPresetName = (typeof SEGMENT_PRESETS)[number]['name'];

/**
 * Highest segment value: labelmaps are uint8, and the renderer keeps 255 for voxels of a proposal
 * not yet accepted (they are never exported as such).
 */
export const MAX_SEGMENT_VALUE = 254;

/** Colours for user-named segments beyond the presets, taken in turn. */
const EXTRA_COLOURS: readonly Rgb[] = [
  [255, 120, 200],
  [120, 255, 220],
  [255, 150, 60],
  [160, 200, 80],
  [200, 200, 255],
];

/** Every colour a new segment may take, in the order they are taken: the presets', then the extra ones. */
const SEGMENT_COLOURS: readonly Rgb[] = [...SEGMENT_PRESETS.map((p) => p.colour as Rgb), ...EXTRA_COLOURS];

/** A case without segment records (every journal of earlier versions): one whole-tumour segment, value 1. */
export const DEFAULT_SEGMENTS: readonly SegmentInfo[] = Object.freeze([
  { value: 1, name: 'Whole tumour', colour: [255, 40, 40], visible: true, locked: false },
]);

/** What changes a segment table; one journal record each (renderer/src/lib/replay.ts). */
export const SEGMENT_ACTIONS = [
  'add',
  'rename',
  'recolour',
  'delete',
  'lock',
  'visibility',
  'activate',
] as const;
export type SegmentAction = (typeof SEGMENT_ACTIONS)[number];

export interface SegmentOp {
  action: SegmentAction;
  value: number;
  name?: string;
  colour?: Rgb;
  visible?: boolean;
  locked?: boolean;
}

/** The segment table of a case and which segment tools and accepted proposals write. */
export interface SegmentState {
  segments: SegmentInfo[];
  active: number;
  /** Deleted segments, so undoing the deletion of their voxels can bring them back as they were. */
  removed: SegmentInfo[];
}

export function initialSegmentState(segments: readonly SegmentInfo[] = DEFAULT_SEGMENTS): SegmentState {
  const copy = segments.map((s) => ({ ...s, colour: [...s.colour] as Rgb }));
  return { segments: copy, active: copy[0]?.value ?? 1, removed: [] };
}

/**
 * The lowest free value. A deleted segment's value is not taken again while another is free: undoing
 * the deletion brings its voxels back with that value, and they must not join a newer segment.
 */
export function nextSegmentValue(state: SegmentState): number | undefined {
  const used = new Set(state.segments.map((s) => s.value));
  const removed = new Set(state.removed.map((s) => s.value));
  for (const avoid of [true, false])
    for (let v = 1; v <= MAX_SEGMENT_VALUE; v++) if (!used.has(v) && !(avoid && removed.has(v))) return v;
  return undefined;
}

/** A new segment: a preset's name and colour, or a user's name with the next unused colour. */
export function newSegment(state: SegmentState, name: string, colour?: Rgb): SegmentInfo | string {
  const value = nextSegmentValue(state);
  if (value === undefined) return `no free label value (at most ${MAX_SEGMENT_VALUE} segments)`;
  const preset = SEGMENT_PRESETS.find((p) => p.name.toLowerCase() === name.trim().toLowerCase());
  const taken = new Set(state.segments.map((s) => s.colour.join(',')));
  const free =
    SEGMENT_COLOURS.find((c) => !taken.has(c.join(','))) ?? EXTRA_COLOURS[value % EXTRA_COLOURS.length];
  return {
    value,
    name: name.trim(),
    // a preset's own colour unless a segment has it already (a second "Edema")
    colour: colour ?? (preset && !taken.has(preset.colour.join(',')) ? ([...preset.colour] as Rgb) : free),
    visible: true,
    locked: false,
  };
}

const isRgb = (c: unknown): c is Rgb =>
  Array.isArray(c) && c.length === 3 && c.every((x) => Number.isInteger(x) && x >= 0 && x <= 255);
const isValue = (v: unknown): v is number =>
  Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_SEGMENT_VALUE;
const cleanName = (n: unknown) => (typeof n === 'string' ? n.trim().slice(0, 64) : '');

/**
 * Applies one change and returns the new state, or why it cannot be applied (an unknown segment,
 * a value in use, a bad name or colour). Never mutates `state`.
 */
export function applySegmentOp(state: SegmentState, op: SegmentOp): SegmentState | string {
  if (!SEGMENT_ACTIONS.includes(op.action)) return `unknown segment action ${String(op.action)}`;
  if (!isValue(op.value)) return `segment value ${String(op.value)} is not 1..${MAX_SEGMENT_VALUE}`;
  const at = state.segments.findIndex((s) => s.value === op.value);
  if (op.action === 'add') {
    if (at >= 0) return `segment value ${op.value} is in use (${state.segments[at].name})`;
    const name = cleanName(op.name);
    if (!name) return 'a segment needs a name';
    if (!isRgb(op.colour)) return `segment colour ${JSON.stringify(op.colour)} is not [r, g, b] in 0..255`;
    const seg: SegmentInfo = {
      value: op.value,
      name,
      colour: [...op.colour] as Rgb,
      visible: op.visible ?? true,
      locked: op.locked ?? false,
    };
    const segments = [...state.segments, seg].sort((a, b) => a.value - b.value);
    return { ...state, segments, removed: state.removed.filter((s) => s.value !== op.value) };
  }
  if (at < 0) return `no segment with value ${op.value}`;
  const seg = state.segments[at];
  const replace = (next: SegmentInfo): SegmentState => ({
    ...state,
    segments: state.segments.map((s, i) => (i === at ? next : s)),
  });
  switch (op.action) {
    case 'rename': {
      const name = cleanName(op.name);
      return name ? replace({ ...seg, name }) : 'a segment needs a name';
    }
    case 'recolour':
      return isRgb(op.colour) ? replace({ ...seg, colour: [...op.colour] as Rgb }) : 'bad segment colour';
    case 'lock':
      return replace({ ...seg, locked: op.locked === true });
    case 'visibility':
      return replace({ ...seg, visible: op.visible !== false });
    case 'activate':
      return { ...state, active: op.value };
    case 'delete': {
      if (state.segments.length === 1) return 'the last segment cannot be deleted';
      const segments = state.segments.filter((_, i) => i !== at);
      const active = state.active === op.value ? segments[0].value : state.active;
      return { segments, active, removed: [...state.removed.filter((s) => s.value !== op.value), seg] };
    }
    default:
      return `unknown segment action ${String(op.action)}`;
  }
}

/**
 * A segment table from outside (an export request, a sidecar file): the table, or what is wrong
 * with it (values not 1..MAX_SEGMENT_VALUE or repeated, names missing, colours not RGB).
 */
export function checkSegmentTable(x: unknown): SegmentInfo[] | string {
  if (!Array.isArray(x) || x.length === 0) return 'the segment table is not a non-empty list';
  const seen = new Set<number>();
  const out: SegmentInfo[] = [];
  for (const s of x as Record<string, unknown>[]) {
    if (!s || typeof s !== 'object') return 'a segment is not an object';
    if (!isValue(s.value)) return `segment value ${String(s.value)} is not 1..${MAX_SEGMENT_VALUE}`;
    if (seen.has(s.value)) return `segment value ${s.value} appears twice`;
    seen.add(s.value);
    const name = cleanName(s.name);
    if (!name) return `segment ${s.value} has no name`;
    if (!isRgb(s.colour)) return `segment ${s.value} colour is not [r, g, b] in 0..255`;
    out.push({
      value: s.value,
      name,
      colour: [...s.colour] as Rgb,
      visible: s.visible !== false,
      locked: s.locked === true,
    });
  }
  return out;
}

/** The sidecar of a NIfTI label map (`<name>.segments.json`): which value is which segment. */
export function segmentTableJson(segments: readonly SegmentInfo[]): string {
  const table = {
    segments: segments.map(({ value, name, colour }) => ({ value, name, colour })),
  };
  return `${JSON.stringify(table, null, 2)}\n`;
}

/**
 * The segment of a value read from a label file (core/src/labels.ts, labels-seg.ts) that brings no
 * name or colour of its own: "Label N" (what N means is the file's business: BraTS numbers its
 * sub-regions from 1), coloured by the presets in turn (value 1 red, as the lesion always was).
 */
export function defaultSegment(value: number, name?: string): SegmentInfo {
  return {
    value,
    name: name ?? `Label ${value}`,
    colour: [...SEGMENT_COLOURS[(value - 1) % SEGMENT_COLOURS.length]] as Rgb,
    visible: true,
    locked: false,
  };
}
