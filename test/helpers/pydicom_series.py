"""Independent reference for a DICOM series Quorum's tests write: what pydicom makes of it.
argv: folder, raw output file. Prints JSON (geometry in LPS from the headers alone, the header
values that must agree across slices, UID counts) and writes the pixels, slices sorted along the
normal, as raw little-endian int16 (i fastest, then j, then k)."""
import json
import os
import sys

import numpy as np
import pydicom

folder, raw = sys.argv[1], sys.argv[2]
ds = [pydicom.dcmread(os.path.join(folder, f)) for f in sorted(os.listdir(folder))]
iop = np.array([float(x) for x in ds[0].ImageOrientationPatient])
row, col = iop[:3], iop[3:]
normal = np.cross(row, col)
ds.sort(key=lambda d: float(np.dot(normal, [float(x) for x in d.ImagePositionPatient])))
pos = np.array([[float(x) for x in d.ImagePositionPatient] for d in ds])
gaps = np.diff(pos @ normal)
stack = np.stack([d.pixel_array.astype('<i2') for d in ds])
stack.tofile(raw)
same = lambda key: len({str(getattr(d, key)) for d in ds}) == 1
print(json.dumps({
    'files': len(ds),
    'dims': [int(ds[0].Columns), int(ds[0].Rows), len(ds)],
    'spacing': [float(ds[0].PixelSpacing[1]), float(ds[0].PixelSpacing[0]), float(np.mean(gaps))],
    'gapSpread': float(gaps.max() - gaps.min()),
    'origin': pos[0].tolist(),
    'direction': row.tolist() + col.tolist() + normal.tolist(),
    'sliceThickness': float(ds[0].SliceThickness),
    'consistent': all(same(k) for k in ['ImageOrientationPatient', 'PixelSpacing', 'SeriesInstanceUID',
                                          'StudyInstanceUID', 'FrameOfReferenceUID', 'SeriesDescription']),
    'sopUids': len({d.SOPInstanceUID for d in ds}),
    'mediaUidsMatch': all(d.file_meta.MediaStorageSOPInstanceUID == d.SOPInstanceUID for d in ds),
    'instanceNumbers': [int(d.InstanceNumber) for d in ds],
    'seriesDescription': str(ds[0].SeriesDescription),
    'manufacturer': str(ds[0].Manufacturer),
    'model': str(ds[0].ManufacturerModelName),
    'modality': str(ds[0].Modality),
    'transferSyntax': str(ds[0].file_meta.TransferSyntaxUID),
}))
