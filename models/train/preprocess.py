"""Preprocessing v2 ('head-robust'): one definition for training and for the app.

core/src/preprocess-v2.ts is the TypeScript twin; test/fixtures/preprocess-v2 (written by
make_preprocess_fixture.py from real LGG and BraTS cases) checks that both give the same model
input. Nothing here assumes how the scan was prepared: skull-stripped or whole head, float or
8-bit, zero or noisy background, any voxel order, any in-plane pixel size, thick slices.

Geometry is LPS (DICOM), as core/src/volume.ts: `direction[:, c]` is voxel axis c's unit vector.

  axes        The slice axis is the voxel axis closest to S (superior); the model's columns run
              along the remaining axis closest to L, its rows along the one closest to P, each
              flipped where it points the other way. Axes are permuted and flipped only, never
              rotated: oblique scans are read on their own slices.
  statistics  Per channel, on every s-th voxel (s = max(1, N // 2**20), voxels in file order,
              i fastest), sorted: lo = min, hi = the 99.9th percentile (nearest rank, rounded
              down). Otsu's threshold on a 256-bin histogram of [lo, hi] splits air/background
              from tissue; the foreground percentiles p1, p50, p99 of that sample give
              z = (v - p50) / (p99 - p1), clipped to CLIP. Invariant to any positive affine change
              of intensities (raw, z-scored, 8-bit, 12-bit all look alike).
  fill        An image normalised inside a brain mask and filled with 0 outside has its fill value inside
              the tissue's range, where Otsu would call it tissue: a single value covering >= 20% of the
              sample, >= 0.1 of the way up [min, hi], is read as the sample's minimum (background_fill).
              No shared case has one (their modes sit in the bottom 3%), so their inputs are unchanged.
  centre      Head centre = mean (i, j, k) index of the foreground voxels (any channel).
  grid        Each slice is resampled onto INPUT_SIZE pixels of SPACING_MM, centred on the head
              centre: a separable box-supersampled bilinear filter (n = ceil(source pixels per
              model pixel) sub-samples per axis), values outside the image = lo. A consistent
              field of view of 240 mm whatever the scanner's pixel size or matrix.
  slices      Slices with >= MIN_SLICE_FOREGROUND_MM2 of foreground are proposed; others skipped.
  back        Model maps return to the native slice by bilinear sampling (0 outside the grid).
"""
import math

import numpy as np

INPUT_SIZE = (120, 120)
SPACING_MM = 2.0
CLIP = (-2.0, 4.0)
HIST_BINS = 256
SAMPLE_TARGET = 1 << 20
MIN_SLICE_FOREGROUND_MM2 = 400.0


def lps_geometry(affine):
    """nibabel RAS affine -> (spacing[3], direction 3x3 LPS, columns = voxel axes)."""
    m = np.diag([-1.0, -1.0, 1.0]) @ np.asarray(affine, dtype=np.float64)[:3, :3]
    spacing = np.linalg.norm(m, axis=0)
    spacing[spacing == 0] = 1.0
    return spacing, m / spacing


def model_axes(direction):
    """-> (slice_axis, col_axis, col_sign, row_axis, row_sign) from a 3x3 LPS direction."""
    d = np.asarray(direction, dtype=np.float64)
    slice_axis = int(np.argmax(np.abs(d[2, :])))
    rest = [c for c in range(3) if c != slice_axis]
    col_axis = rest[0] if abs(d[0, rest[0]]) >= abs(d[0, rest[1]]) else rest[1]
    row_axis = rest[1] if col_axis == rest[0] else rest[0]
    col_sign = 1.0 if d[0, col_axis] >= 0 else -1.0
    row_sign = 1.0 if d[1, row_axis] >= 0 else -1.0
    return slice_axis, col_axis, col_sign, row_axis, row_sign


def finite_or_background(vol, name='image'):
    """NaN and +-Inf voxels (outside an SPM-masked image, a failed division) -> the lowest finite
    value, the background whatever the scale; the app does the same when it reads any file
    (core/src/finite.ts fillNonFinite). Integer arrays are returned as they are."""
    vol = np.asarray(vol)
    if not np.issubdtype(vol.dtype, np.floating):
        return vol
    ok = np.isfinite(vol)
    if ok.all():
        return vol
    if not ok.any():
        raise ValueError(f'{name}: no voxel holds a number (all are NaN or infinite)')
    return np.where(ok, vol, vol[ok].min()).astype(vol.dtype)


def _bin(x, lo, hi):
    return np.minimum(HIST_BINS - 1, np.floor((x - lo) / (hi - lo) * HIST_BINS)).astype(np.int64)


def _sorted_sample(vol):
    """Every s-th voxel (s = max(1, N // SAMPLE_TARGET), file order), sorted."""
    flat = np.asarray(vol, dtype=np.float32).ravel(order='F').astype(np.float64)
    stride = max(1, flat.size // SAMPLE_TARGET)
    return np.sort(flat[::stride])


FILL_SHARE = 0.2  # a background fill covers this share of the sample
FILL_POSITION = 0.1  # and sits this far up [min, 99.9th percentile] (the air of 53 real heads: <= 0.03)


def background_fill(vol, s=None):
    """(value, to) of an image normalised inside a brain mask and filled with 0 outside (nnU-Net's z-score
    with a mask): one exact value covering >= 20% of the voxels inside the tissue's range, read as the
    sample's lowest value instead; None when no value qualifies (every shared case).
    s: _sorted_sample(vol) when the caller has it. core/src/preprocess-v2-intensity.ts backgroundFill."""
    s = _sorted_sample(vol) if s is None else s
    n = s.size
    vals, counts = np.unique(s, return_counts=True)
    i = int(np.argmax(counts))  # the first (lowest) of equal counts, as the TypeScript
    lo, hi = float(s[0]), float(s[int(math.floor(0.999 * (n - 1)))])
    if counts[i] < FILL_SHARE * n or not hi > lo or (float(vals[i]) - lo) / (hi - lo) < FILL_POSITION:
        return None
    return float(vals[i]), lo


def fill_to_background(vol, fill):
    return vol if fill is None else np.where(vol == fill[0], fill[1], vol).astype(vol.dtype)


def sample_after_fill(s, fill):
    """The sorted sample of the data with `fill` applied, from the sorted sample before it (the same voxels,
    each mapped): the fill's values become as many of its `to`, the sample's lowest value, so they go first
    and the rest keeps its order. Saves sorting a second time (core/src/preprocess-v2-intensity.ts sampleAfterFill)."""
    if fill is None:
        return s
    keep = s != fill[0]
    return np.concatenate([np.full(s.size - int(keep.sum()), fill[1]), s[keep]])


def channel_stats(vol, name='channel', s=None):
    """vol: 3-D array (i, j, k). -> dict lo, hi, otsu_bin, p1, p50, p99. s: _sorted_sample(vol) when the
    caller has it."""
    s = _sorted_sample(vol) if s is None else s
    n = s.size
    lo = float(s[0])
    hi = float(s[int(math.floor(0.999 * (n - 1)))])
    if not hi > lo:
        hi = float(s[-1])
    if not hi > lo:
        raise ValueError(f'{name}: the image is constant ({lo}); nothing to segment')
    hist = np.bincount(_bin(s, lo, hi), minlength=HIST_BINS).astype(np.float64)
    otsu = otsu_bin(hist)
    fg = s[_bin(s, lo, hi) > otsu]
    m = fg.size
    if m < 100:
        raise ValueError(f'{name}: no foreground found (only {m} sampled voxels above the background)')
    p1 = float(fg[int(math.floor(0.01 * (m - 1)))])
    p50 = float(fg[int(math.floor(0.50 * (m - 1)))])
    p99 = float(fg[int(math.floor(0.99 * (m - 1)))])
    if not p99 > p1:
        raise ValueError(f'{name}: the foreground has no contrast (1st and 99th percentiles are both {p1})')
    return dict(lo=lo, hi=hi, otsu_bin=otsu, p1=p1, p50=p50, p99=p99)


def otsu_bin(hist):
    """Last bin of the background class: maximises w0 w1 (mu0 - mu1)^2, first maximum wins."""
    total = 0.0
    total_mu = 0.0
    for b in range(HIST_BINS):
        total += hist[b]
        total_mu += b * hist[b]
    best, best_b = -1.0, 0
    w0 = 0.0
    s0 = 0.0
    for b in range(HIST_BINS - 1):
        w0 += hist[b]
        s0 += b * hist[b]
        w1 = total - w0
        if w0 == 0 or w1 == 0:
            continue
        d = s0 / w0 - (total_mu - s0) / w1
        between = w0 * w1 * d * d
        if between > best:
            best, best_b = between, b
    return best_b


def foreground(vols, stats):
    fg = np.zeros(vols[0].shape, bool)
    for v, st in zip(vols, stats):
        fg |= _bin(np.asarray(v, dtype=np.float32).astype(np.float64), st['lo'], st['hi']) > st['otsu_bin']
    return fg


def axis_weights(n_out, n_src, centre, sign, step):
    """Sparse 1-D resampling weights: model index o -> source positions
    centre + sign * (o - (n_out-1)/2) * step + sub-sample offsets, bilinear.
    -> dense [n_out, n_src] matrix (rows sum to the in-bounds weight, <= 1)."""
    n_sub = max(1, math.ceil(step - 1e-6))
    w = np.zeros((n_out, n_src), np.float64)
    for o in range(n_out):
        base = centre + sign * (o - (n_out - 1) / 2.0) * step
        for s in range(n_sub):
            p = base + ((s + 0.5) / n_sub - 0.5) * step
            i0 = math.floor(p)
            f = p - i0
            if 0 <= i0 < n_src:
                w[o, i0] += (1.0 - f) / n_sub
            if 0 <= i0 + 1 < n_src:
                w[o, i0 + 1] += f / n_sub
    return w


class ModelFrame:
    """Everything needed to go from a case's native grid to model slices and back."""

    def __init__(self, vols, spacing, direction, names=None):
        self.shape = vols[0].shape
        self.spacing = np.asarray(spacing, np.float64)
        self.slice_axis, self.col_axis, self.col_sign, self.row_axis, self.row_sign = model_axes(direction)
        names = names or [f'channel {i}' for i in range(len(vols))]
        # one sorted sample per channel serves the fill and the statistics (the latter's is derived)
        samples = [_sorted_sample(v) for v in vols]
        self.fills = [background_fill(v, s) for v, s in zip(vols, samples)]
        vols = [fill_to_background(np.asarray(v, np.float32), f) for v, f in zip(vols, self.fills)]
        self.stats = [channel_stats(v, n, sample_after_fill(s, f))
                      for v, n, s, f in zip(vols, names, samples, self.fills)]
        # the lowest raw value of a foreground bin, normalised and clipped as model_input does
        # (core/src/preprocess-v2.ts foregroundFloor)
        self.foreground_floor = [
            min(CLIP[1], max(CLIP[0], (st['lo'] + (st['otsu_bin'] + 1) * (st['hi'] - st['lo']) / HIST_BINS
                                       - st['p50']) / (st['p99'] - st['p1']))) for st in self.stats]
        fg = foreground(vols, self.stats)
        idx = np.nonzero(fg)
        self.centre = [float(np.sum(a, dtype=np.int64)) / len(a) for a in idx]
        per_slice = np.bincount(idx[self.slice_axis], minlength=self.shape[self.slice_axis])
        pix_mm2 = self.spacing[self.col_axis] * self.spacing[self.row_axis]
        self.slices = [int(k) for k in np.nonzero(per_slice * pix_mm2 >= MIN_SLICE_FOREGROUND_MM2)[0]]
        H, W = INPUT_SIZE
        self.w_col = axis_weights(W, self.shape[self.col_axis], self.centre[self.col_axis], self.col_sign,
                                  SPACING_MM / self.spacing[self.col_axis])
        self.w_row = axis_weights(H, self.shape[self.row_axis], self.centre[self.row_axis], self.row_sign,
                                  SPACING_MM / self.spacing[self.row_axis])

    def native_plane(self, vol, k):
        """Slice k as a 2-D array [row axis, col axis]."""
        sl = [slice(None)] * 3
        sl[self.slice_axis] = k
        plane = np.asarray(vol[tuple(sl)], dtype=np.float64)
        # remaining axes keep their order; transpose so that rows = row axis
        rest = [c for c in range(3) if c != self.slice_axis]
        return plane if rest[0] == self.row_axis else plane.T

    def resample(self, plane, pad):
        """[rows, cols] native plane -> [H, W] model plane; outside = pad."""
        inside = self.w_row.sum(1)[:, None] * self.w_col.sum(1)[None, :]
        return self.w_row @ plane @ self.w_col.T + (1.0 - inside) * pad

    def model_input(self, vols, k):
        """-> float32 [C, H, W] normalised model input for slice k."""
        out = []
        for v, st, fill in zip(vols, self.stats, self.fills):
            x = self.resample(fill_to_background(self.native_plane(v, k), fill), st['lo'])
            z = (x - st['p50']) / (st['p99'] - st['p1'])
            out.append(np.clip(z, *CLIP))
        return np.stack(out).astype(np.float32)

    def model_label(self, label, k):
        return self.resample(self.native_plane(label, k).astype(np.float64), 0.0).astype(np.float32)

    def back_weights(self):
        """Dense matrices mapping model maps back onto the native plane (bilinear, 0 outside)."""
        if not hasattr(self, '_back'):
            H, W = INPUT_SIZE
            self._back = (_back_axis(self.shape[self.row_axis], H, self.centre[self.row_axis], self.row_sign,
                                     self.spacing[self.row_axis] / SPACING_MM),
                          _back_axis(self.shape[self.col_axis], W, self.centre[self.col_axis], self.col_sign,
                                     self.spacing[self.col_axis] / SPACING_MM))
        return self._back

    def to_native(self, model_map):
        """[H, W] model map -> [rows, cols] native plane (row axis, col axis)."""
        br, bc = self.back_weights()
        return br @ np.asarray(model_map, np.float64) @ bc.T

    def place(self, out_vol, k, native_plane):
        """Writes a [rows, cols] plane into slice k of a volume of the native shape."""
        sl = [slice(None)] * 3
        sl[self.slice_axis] = k
        rest = [c for c in range(3) if c != self.slice_axis]
        out_vol[tuple(sl)] = native_plane if rest[0] == self.row_axis else native_plane.T


def _back_axis(n_native, n_model, centre, sign, scale):
    """native index x -> model coordinate (n_model-1)/2 + sign (x - centre) * scale, bilinear."""
    w = np.zeros((n_native, n_model), np.float64)
    for x in range(n_native):
        p = (n_model - 1) / 2.0 + sign * (x - centre) * scale
        i0 = math.floor(p)
        f = p - i0
        if 0 <= i0 < n_model:
            w[x, i0] += 1.0 - f
        if 0 <= i0 + 1 < n_model:
            w[x, i0 + 1] += f
    return w
