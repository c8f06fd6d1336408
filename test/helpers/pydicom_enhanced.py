"""Writes Enhanced MR Image Storage objects (one file, many frames) with pydicom, independently of
Quorum, and prints what a reader should find (JSON: geometry in LPS, the first volume's voxels as raw
int16 at argv[-1] ... see the modes).

  series <classic folder> <out.dcm> <raw>   a real one-file-per-slice series as one enhanced object,
                                             frames shuffled, TemporalPositionIndex per volume
  nifti <image.nii.gz> <out.dcm> <description> <series number> [extras JSON]
                                             a NIfTI volume as one enhanced object (nibabel geometry);
                                             extras put what scanners write in the shared functional
                                             groups: {"contrast": AcquisitionContrast (MR Image Frame
                                             Type), "agent": true (Contrast/Bolus Usage, administered),
                                             "tr": ms (MR Timing), "ti": ms (MR Modifier InversionTimes)}
"""
import json
import os
import random
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ENHANCED_MR = '1.2.840.10008.5.1.4.1.1.4.1'


def item(**kw):
    d = Dataset()
    for k, v in kw.items():
        setattr(d, k, v)
    return d


def enhanced(frames, rows, cols, iop, spacing, thickness, header):
    """frames: list of (ipp, temporal index, int16 array rows x cols)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ENHANCED_MR
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = ENHANCED_MR
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = header.get('study', generate_uid())
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = header.get('frame', generate_uid())
    ds.Modality = 'MR'
    ds.SeriesDescription = header['description']
    ds.SeriesNumber = header['number']
    ds.InstanceNumber = 1
    ds.PatientName = 'Enhanced^Test'
    ds.PatientID = 'ENH1'
    ds.ImageType = ['ORIGINAL', 'PRIMARY', 'M', 'NONE']
    ds.Rows, ds.Columns = rows, cols
    ds.NumberOfFrames = len(frames)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.SharedFunctionalGroupsSequence = Sequence([item(
        PlaneOrientationSequence=Sequence([item(ImageOrientationPatient=[float(x) for x in iop])]),
        PixelMeasuresSequence=Sequence([item(PixelSpacing=[float(spacing[0]), float(spacing[1])],
                                             SliceThickness=float(thickness))]),
        PixelValueTransformationSequence=Sequence([item(RescaleSlope=1, RescaleIntercept=0, RescaleType='US')]),
    )])
    shared = ds.SharedFunctionalGroupsSequence[0]
    extras = header.get('extras', {})
    if 'contrast' in extras:
        shared.MRImageFrameTypeSequence = Sequence([item(
            FrameType=['ORIGINAL', 'PRIMARY', 'M', 'NONE'], AcquisitionContrast=extras['contrast'])])
    if extras.get('agent'):
        shared.ContrastBolusUsageSequence = Sequence([item(
            ContrastBolusAgentNumber=1, ContrastBolusAgentAdministered='YES')])
    if 'tr' in extras:
        shared.MRTimingAndRelatedParametersSequence = Sequence([item(RepetitionTime=float(extras['tr']))])
    if 'ti' in extras:
        shared.MRModifierSequence = Sequence([item(InversionRecovery='YES', InversionTimes=[float(extras['ti'])])])
    ds.PerFrameFunctionalGroupsSequence = Sequence([item(
        PlanePositionSequence=Sequence([item(ImagePositionPatient=[float(x) for x in ipp])]),
        FrameContentSequence=Sequence([item(TemporalPositionIndex=int(t), DimensionIndexValues=[int(t), i + 1])]),
    ) for i, (ipp, t, _) in enumerate(frames)])
    ds.PixelData = np.stack([f[2].astype('<i2') for f in frames]).tobytes()
    return ds


def from_series(folder, out, raw):
    files = [pydicom.dcmread(os.path.join(folder, f)) for f in sorted(os.listdir(folder)) if f.endswith('.dcm')]
    iop = np.array([float(x) for x in files[0].ImageOrientationPatient])
    normal = np.cross(iop[:3], iop[3:])
    pos = lambda d: round(float(np.dot(normal, [float(x) for x in d.ImagePositionPatient])), 3)
    by = {}
    for d in files:
        by.setdefault(pos(d), []).append(d)
    frames = []
    for p, ds in by.items():
        for t, d in enumerate(sorted(ds, key=lambda d: int(d.InstanceNumber))):
            frames.append(([float(x) for x in d.ImagePositionPatient], t + 1, d.pixel_array))
    first = sorted((f for f in frames if f[1] == 1), key=lambda f: float(np.dot(normal, f[0])))
    random.Random(7).shuffle(frames)
    d0 = files[0]
    ds = enhanced(frames, int(d0.Rows), int(d0.Columns), iop, d0.PixelSpacing, d0.SliceThickness,
                  {'description': str(d0.SeriesDescription), 'number': int(d0.SeriesNumber)})
    ds.save_as(out, write_like_original=False)
    np.stack([f[2].astype('<i2') for f in first]).tofile(raw)
    gaps = np.diff([np.dot(normal, f[0]) for f in first])
    print(json.dumps({
        'frames': len(frames), 'volumes': max(len(v) for v in by.values()),
        'dims': [int(d0.Columns), int(d0.Rows), len(first)],
        'spacing': [float(d0.PixelSpacing[1]), float(d0.PixelSpacing[0]), float(np.mean(gaps))],
        'origin': first[0][0], 'direction': iop.tolist() + normal.tolist(),
    }))


def from_nifti(path, out, description, number, extras=None):
    import nibabel as nib
    img = nib.load(path)  # its own voxel order: the DICOM grid is the NIfTI's
    a = np.asanyarray(img.dataobj).astype(np.int16)
    A = np.diag([-1, -1, 1, 1]) @ img.affine       # LPS
    sx, sy, sz = (float(np.linalg.norm(A[:3, c])) for c in range(3))
    row, col = A[:3, 0] / sx, A[:3, 1] / sy
    frames = [((A[:3, :3] @ [0, 0, k] + A[:3, 3]).tolist(), 1, a[:, :, k].T) for k in range(a.shape[2])]
    ds = enhanced(frames, a.shape[1], a.shape[0], np.concatenate([row, col]), [sy, sx], sz,
                  {'description': description, 'number': number, 'study': '1.2.3.4.5.6.7.8.1',
                   'frame': '1.2.3.4.5.6.7.8.2', 'extras': extras or {}})
    ds.save_as(out, write_like_original=False)
    print(json.dumps({'frames': len(frames)}))


if __name__ == '__main__':
    if sys.argv[1] == 'series':
        from_series(*sys.argv[2:5])
    else:
        from_nifti(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]),
                   json.loads(sys.argv[6]) if len(sys.argv) > 6 else None)
