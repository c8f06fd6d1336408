/**
 * Sequence recognition, one row per naming seen in the wild: the three big vendors' series
 * descriptions / protocol names, BraTS (2013-2023) and BIDS file names, what must be skipped
 * (localisers, calibration, derived series, sequences the model does not use) and the DICOM
 * attributes used when the name says nothing. Every decision carries a reason naming its evidence.
 */
import { describe, expect, it } from 'vitest';
import {
  classifySeries,
  detectSequence,
  isBrainMaskFile,
  isLabelFile,
  NAMING_RULES,
  type SeriesRole,
} from '../../core/src/sequence.ts';
import type { SequenceName } from '../../core/src/volume.ts';

type Row = [string, SequenceName, SeriesRole?];

const SIEMENS: Row[] = [
  ['t2_tirm_tra_dark-fluid', 'flair'],
  ['t2_tirm_tra_dark-fluid_KM', 'flair'],
  ['t2_spc_da-fl_sag_p2_iso', 'flair'],
  ['t2_spc_da-fl_irprep_sag_p2_iso', 'flair'],
  ['t1_mprage_tra_p2_iso KM', 't1c'],
  ['t1_mprage_sag_p2_iso', 't1'],
  ['t1_se_tra_KM', 't1c'],
  ['t1_se_tra', 't1'],
  ['t1_fl2d_tra', 't1'],
  ['t1_vibe_fs_tra_KM', 't1c'],
  ['t2_tse_tra_512', 't2'],
  ['t2_blade_tra', 't2'],
  ['AAHead_Scout_64ch-head-coil', 'unknown', 'localizer'],
  ['localizer', 'unknown', 'localizer'],
  ['t1_mprage_sag_p2_iso_MPR_tra', 'unknown', 'derived'],
  ['ep2d_diff_mddw_20_p2', 'unknown', 'other'],
  ['ep2d_diff_mddw_20_p2_ADC', 'unknown', 'derived'],
  ['ep2d_perf', 'unknown', 'other'],
  ['t2_swi_tra_p2', 'unknown', 'other'],
  ['t2_tirm_cor STIR', 'unknown', 'other'],
];

const GE: Row[] = [
  ['Ax T2 FLAIR', 'flair'],
  ['Sag CUBE FLAIR', 'flair'],
  ['Ax T2 FLAIR +C', 'flair'],
  ['Sag 3D T1 BRAVO +C', 't1c'],
  ['Sag 3D T1 BRAVO', 't1'],
  ['Ax 3D FSPGR +C', 't1c'],
  ['Ax T1 SE +C', 't1c'],
  ['Ax T1 FLAIR', 't1'], // T1-weighted FLAIR is a T1
  ['Ax T1 FLAIR +C', 't1c'],
  ['Ax T2 FSE', 't2'],
  ['Ax T2 PROPELLER', 't2'],
  ['3Plane Loc SSFSE', 'unknown', 'localizer'],
  ['ASSET cal', 'unknown', 'calibration'],
  ['Ax DWI', 'unknown', 'other'],
  ['Ax SWAN', 'unknown', 'other'],
  ['Ax GRE T2*', 'unknown', 'other'],
  ['Axial EPI-FMRI (Interleaved I to S)', 'unknown', 'other'],
];

const PHILIPS: Row[] = [
  ['3D_FLAIR', 'flair'],
  ['VISTA_FLAIR', 'flair'],
  ['T2W_FLAIR', 'flair'],
  ['T1W_3D_TFE +GD', 't1c'],
  ['T1W_3D_TFE', 't1'],
  ['T1W_SE +C', 't1c'],
  ['T2W_TSE', 't2'],
  ['Survey', 'unknown', 'localizer'],
  ['SmartBrain', 'unknown', 'localizer'],
  ['SenseRefScan', 'unknown', 'calibration'],
  ['DWI_SSh', 'unknown', 'other'],
  ['dADC', 'unknown', 'unrecognised'], // no separator: not recognised, so not taken either
];

const OTHER_SITES: Row[] = [
  ['T1_pre_Gd', 't1'],
  ['T1 post Gd', 't1c'],
  ['MPRAGE_POST', 't1c'],
  ['T1 W/O', 't1'],
  ['PD T2 FSE', 'unknown', 'other'],
  ['TOF 3D multi-slab', 'unknown', 'other'],
];

const FILES: Row[] = [
  // BraTS 2021-2023
  ['BraTS-GLI-00000-000-t2f.nii.gz', 'flair'],
  ['BraTS-GLI-00000-000-t1n.nii.gz', 't1'],
  ['BraTS-GLI-00000-000-t1c.nii.gz', 't1c'],
  ['BraTS-GLI-00000-000-t2w.nii.gz', 't2'],
  ['BraTS-GLI-00000-000-seg.nii.gz', 'unknown', 'label'],
  // BraTS 2018-2020
  ['BraTS20_Training_001_flair.nii.gz', 'flair'],
  ['BraTS20_Training_001_t1ce.nii.gz', 't1c'],
  ['BraTS20_Training_001_t1.nii.gz', 't1'],
  ['BraTS20_Training_001_t2.nii.gz', 't2'],
  // BraTS toolkit / FSL BET outputs
  ['pat_fla_bet.nii.gz', 'flair'],
  ['pat_t1c_bet.nii.gz', 't1c'],
  ['pat_t1_bet.nii.gz', 't1'],
  ['pat_t2_bet.nii.gz', 't2'],
  ['pat_fla_bet_mask.nii.gz', 'unknown', 'mask'],
  // BraTS 2013-2015, DeepMedic, ANTsXNet (files in ../shared/data)
  ['Flair_subtrMeanDivStd.nii.gz', 'flair'],
  ['T1c_subtrMeanDivStd.nii.gz', 't1c'],
  ['OTMultiClass.nii.gz', 'unknown', 'label'],
  ['brainmask.nii.gz', 'unknown', 'mask'],
  ['BrainExtractionMask.nii.gz', 'unknown', 'mask'],
  ['segmentation.nii.gz', 'unknown', 'label'],
  ['segmentationWholeTumor.nii.gz', 'unknown', 'label'],
  ['T1Gd.nii.gz', 't1c'],
  ['t1gd.nii', 't1c'],
  // BIDS
  ['sub-01_ses-1_FLAIR.nii.gz', 'flair'],
  ['sub-01_ses-1_ce-gadolinium_T1w.nii.gz', 't1c'],
  ['sub-01_ses-1_T1w.nii.gz', 't1'],
  ['sub-01_ses-1_T2w.nii.gz', 't2'],
  ['sub-01_ses-1_T2starw.nii.gz', 'unknown', 'other'],
  ['/data/case 7/image.nii.gz', 'unknown', 'unrecognised'],
];

describe('sequence names per vendor (SeriesDescription / ProtocolName)', () => {
  for (const [vendor, rows] of [
    ['Siemens', SIEMENS],
    ['GE', GE],
    ['Philips', PHILIPS],
    ['other sites', OTHER_SITES],
  ] as const) {
    it.each(rows)(`${vendor}: %s -> %s %s`, (desc, sequence, role = 'sequence') => {
      const d = classifySeries({ seriesDescription: desc });
      expect([d.sequence, d.role]).toEqual([sequence, role]);
      expect(d.reason).toContain(`SeriesDescription "${desc}"`);
      // ProtocolName alone decides the same way
      expect(classifySeries({ protocolName: desc }).sequence).toBe(sequence);
    });
  }
});

describe('file names (BraTS, BIDS, toolkits)', () => {
  it.each(FILES)('%s -> %s %s', (file, sequence, role = 'sequence') => {
    const d = classifySeries({ fileName: file });
    expect([d.sequence, d.role]).toEqual([sequence, role]);
    expect(d.reason).toMatch(/file name "/);
    expect(detectSequence(file)).toBe(sequence);
  });

  it('labels and masks only from file names, never from a series description', () => {
    expect(isLabelFile('BraTS-GLI-00000-000-seg.nii.gz')).toBe(true);
    expect(isBrainMaskFile('brainmask.nii.gz')).toBe(true);
    expect(isLabelFile('flair.nii.gz')).toBe(false);
    expect(classifySeries({ seriesDescription: 'seg' }).role).toBe('unrecognised');
  });
});

describe('DICOM attributes', () => {
  it('ImageType LOCALIZER and DERIVED are skipped whatever the name says', () => {
    const loc = classifySeries({ seriesDescription: 't1_se_tra', imageType: 'ORIGINAL\\PRIMARY\\LOCALIZER' });
    expect([loc.role, loc.reason]).toEqual(['localizer', 'ImageType LOCALIZER: a localiser']);
    const mpr = classifySeries({
      seriesDescription: 't1_mprage_sag KM',
      imageType: 'DERIVED\\SECONDARY\\MPR',
    });
    expect(mpr.role).toBe('derived');
    expect(mpr.reason).toMatch(/^ImageType DERIVED\\SECONDARY\\MPR: derived/);
    expect(
      classifySeries({ seriesDescription: 'T1 KM', imageType: 'ORIGINAL\\PRIMARY\\M\\ND\\NORM' }).sequence,
    ).toBe('t1c');
  });

  it('ContrastBolusAgent makes a T1 a T1c; a name saying "pre" wins over it', () => {
    const c = classifySeries({ seriesDescription: 't1_mprage_sag_p2_iso', contrastAgent: 'Gadovist' });
    expect(c.sequence).toBe('t1c');
    expect(c.reason).toContain('ContrastBolusAgent "Gadovist"');
    expect(classifySeries({ seriesDescription: 't1_mprage_sag', contrastAgent: 'NONE' }).sequence).toBe('t1');
    expect(classifySeries({ seriesDescription: 'T1 pre', contrastAgent: 'Dotarem' }).sequence).toBe('t1');
    // a post-contrast FLAIR stays a FLAIR, and says so
    const f = classifySeries({ seriesDescription: 'Ax T2 FLAIR', contrastAgent: 'Dotarem' });
    expect([f.sequence, f.reason]).toEqual([
      'flair',
      expect.stringContaining('ContrastBolusAgent "Dotarem"'),
    ]);
  });

  it('names that say nothing: SequenceName, ScanningSequence, TI/TR/TE', () => {
    // dcm_qa_ts's Siemens BOLD series (../shared/data/dicom/dcm_qa_ts/Ref/1.json)
    const epi = classifySeries({
      seriesDescription: 'ax_asc_35sl',
      sequenceName: '*epfid2d1_64',
      scanningSequence: 'EP',
    });
    expect([epi.role, epi.reason]).toEqual([
      'other',
      expect.stringMatching(/^echo-planar \(SequenceName \*epfid2d1_64\)/),
    ]);
    const flair = classifySeries({
      seriesDescription: 'Series 5',
      inversionTime: 2500,
      repetitionTime: 9000,
      echoTime: 81,
    });
    expect([flair.sequence, flair.rule]).toEqual(['flair', 'attributes']);
    expect(flair.reason).toMatch(/TI 2500 ms/);
    expect(
      classifySeries({ seriesDescription: 'x', sequenceName: '*tfl3d1_16ns', contrastAgent: 'Gd' }).sequence,
    ).toBe('t1c');
    expect(classifySeries({ seriesDescription: 'x', repetitionTime: 550, echoTime: 9 }).sequence).toBe('t1');
    expect(classifySeries({ seriesDescription: 'x', repetitionTime: 5000, echoTime: 100 }).sequence).toBe(
      't2',
    );
    // STIR's short TI is not FLAIR
    expect(
      classifySeries({ seriesDescription: 'x', inversionTime: 150, repetitionTime: 5000, echoTime: 40 }).role,
    ).toBe('unrecognised');
  });

  it('a name that says nothing and no attributes: unrecognised, with what was looked at', () => {
    const d = classifySeries({ seriesDescription: 'Series 3', protocolName: 'Routine' });
    expect(d).toEqual({
      sequence: 'unknown',
      role: 'unrecognised',
      rule: 'none',
      reason:
        'sequence not recognised from SeriesDescription "Series 3", ProtocolName "Routine" (assign it explicitly)',
    });
  });

  it('every rule of the table is exercised by a row above', () => {
    const all = [...SIEMENS, ...GE, ...PHILIPS, ...OTHER_SITES].map(
      ([d]) => classifySeries({ seriesDescription: d }).rule,
    );
    const files = FILES.map(([f]) => classifySeries({ fileName: f }).rule);
    const used = new Set([...all, ...files]);
    for (const r of NAMING_RULES) expect(used, r.id).toContain(r.id);
  });
});
