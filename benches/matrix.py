"""The benchmark matrix (issues 12, 13): nibabel, neurovox, SimpleITK and gzip anchors, one run.

    .venv/bin/python benches/matrix.py --dir /tmp/nvbench [--quick] [--repeats 3]
        [--only PATTERN ...] [--sides nibabel,py,rust,sitk,igzip,rapidgzip,limit]
        [--markdown FILE] [--list]

Every performance claim about neurovox is made with this command. Rows are operations users
perform; columns are sides:

  nibabel  nibabel 5.4.2, the reference every ratio is taken against
  py       neurovox through its Python API: the very same side script with
           `import neurovox as nib` (nibabel's own calls: what a user gains by changing the import)
  rust     neurovox from Rust (`crates/neurovox/examples/bench_io.rs`, built here in release mode)
  sitk     SimpleITK, for whole reads and writes (`ReadImage` + `GetArrayFromImage`,
           `GetImageFromArray` + `WriteImage`, `.nii` and `.nii.gz`): what many pick instead

and the gzip anchors (issue 13), only in the "whole .nii.gz read" rows (other rows leave their
cells empty), which read the data bytes after the header (offset, shape and type from nibabel's
header) into a numpy array, and are shown with ratios but never judged against the goals:

  igzip     indexed_gzip's IndexedGzipFile (one thread), the index imported when one was built
  rapidgzip rapidgzip.open(path, parallelization=<CPUs>), the index imported when one was built
  limit     the one-core limit (bench_io's `inflate_limit`): the file read into memory and
            inflated by one libdeflate gzip_decompress call (one per member of a neurovox-written
            file) into a fresh buffer, on one thread; no index can speed it up

The "whole .nii.gz read" rows read all of the bold run as nibabel, SimpleITK and neurovox wrote
it (`np.asarray(dataobj)` for nibabel and the neurovox sides, SimpleITK's whole read), twice:
"first read" is a fresh process with no index anywhere (`NEUROVOX_GZIP_INDEX=off` for the
neurovox sides; indexed_gzip and rapidgzip keep none between processes); "second process, index
found" first builds, untimed, each tool's index in its own format (neurovox's `.nvgzidx`, written
by bench_io's `gzip_index` as `neurovox index --cache` does, into a cache directory of the run's
own given as `NEUROVOX_GZIP_INDEX_DIR` to the neurovox sides only, so no other row finds it;
indexed_gzip's `export_index` after `build_full_index`; rapidgzip's `export_index` after a pass
to the end) and the timed process loads it and reads the whole data. A neurovox-written file
carries its member index inside: no index file is made for it. nibabel, SimpleITK and the limit
keep no index: their two cells measure the same thing (nibabel itself reads a .gz through
indexed_gzip when that is installed, as here, building the index in memory as it goes).

Each operation on each side runs in its own process (`benches/matrix_side.py` for the Python
sides, `bench_io` for Rust and the limit), which times the operation itself (process start and
imports excluded), keeps the best of --repeats, and reports its peak resident memory (VmHWM:
the peak since exec, so interpreter, imports, result and checksum pass included). Ratios are
nibabel/side for time and for memory: above 1 favours the side. Goals per cell (issue 12, for
the neurovox sides): time ratio >= 1.5x on plain files, >= 2x on reads of .nii.gz, >= 3x on saves
to .nii.gz; memory ratio >= 1.0. A ratio that misses its goal ends in `!`. Each side's result
is summarised as shape, numpy dtype name and float64 sum; saved files are read back with
nibabel. Any difference from nibabel's result is printed loudly and makes the exit status 1
(as does a side that fails), after the table.

Data (generated at bench time with nibabel and numpy, nothing third-party committed; kept in
--dir and reused, a temporary directory otherwise); `--quick` uses small shapes:

  bold        fMRI-like int16 run 96x96x60x200 (221 MB): a bright ellipsoid "brain" with
              temporal noise and drift inside and exact zeros outside, so it compresses as real
              scans do; .nii and .nii.gz (nibabel's Opener, gzip level 1, as nib.save writes)
  bold_scaled the same int16 values with scl_slope 0.5, scl_inter 10 (reads give float64)
  bold_f64    the run as float64 after a smooth non-integer transform (885 MB): float64 reads,
              and the source array of the saves through nibabel's scaling writer
  anat        float32 anatomical-like 256^3 head (skull, tissue pattern, bias, noise; zeros outside)
  labels      uint8 256^3 label volume (~100 parcels, zeros outside)
  sitk/nv gz  the bold run as a .nii.gz written by SimpleITK (WriteImage, useCompression) and by
              neurovox (rewritten every run, so it is the current writer's)
  header40    40 full-size .nii.gz (hard links, 10 each to bold, bold_scaled, anat, labels)
  small       200 distinct small int16 runs 64x64x32x8 saved with nib.save (.nii.gz)
  real        real images shipped in PyPI wheels: nibabel's own tests/data/*.nii* (not the
              CIFTI file) and nilearn's bundled templates (nilearn/datasets/data/*.nii.gz, from
              its wheel, fetched with pip download --no-deps: nothing installed)
  *.npy       the int16, float64 and float32 arrays the save rows start from (np.load, untimed,
              inside each side's process; Fortran order, as get_fdata returns)

SimpleITK and rapidgzip (pinned in tests/oracle/requirements-bench.txt) and indexed_gzip
(tests/oracle/requirements.txt) are installed into this Python when missing; a package that
cannot be installed drops its side with a note, never the run.

Every input is read once before its row, so all sides find it in the page cache ("cold" below
means a freshly loaded image: a new proxy, no gzip index, not a dropped page cache). Timings
on a machine shared with builds are indicative only: the header prints the load average.
No timing is asserted anywhere; this only reports.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gzip
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.openers import Opener

ROOT = Path(__file__).resolve().parent.parent
SIDE_SCRIPT = Path(__file__).resolve().parent / 'matrix_side.py'
EXAMPLE = ROOT / 'target' / 'release' / 'examples' / 'bench_io'
PINS = ROOT / 'tests' / 'oracle' / 'requirements-bench.txt'
ORACLE_PINS = ROOT / 'tests' / 'oracle' / 'requirements.txt'
DATA_VERSION = 'v1'  # change when a generator changes, so kept data is written again

SIDES = ('nibabel', 'py', 'rust', 'sitk', 'igzip', 'rapidgzip', 'limit')
NEUROVOX_SIDES = ('py', 'rust')
ANCHOR_SIDES = ('igzip', 'rapidgzip', 'limit')  # only in the rows with an `anchor`
SIDE_NAMES = {'nibabel': 'nibabel', 'py': 'neurovox py', 'rust': 'neurovox rust',
              'sitk': 'SimpleITK', 'igzip': 'indexed_gzip',
              'rapidgzip': 'rapidgzip (a thread per CPU)',
              'limit': 'one-core limit (libdeflate, file in memory)'}

# The affine of every generated image and of every saved array image (matrix_side.py and
# bench_io.rs use the same).
AFFINE = np.array([[-2.5, 0.0, 0.0, 118.75],
                   [0.0, 2.5, 0.0, -118.75],
                   [0.0, 0.0, 2.5, -73.75],
                   [0.0, 0.0, 0.0, 1.0]])
SLOPE, INTER = 0.5, 10.0


@dataclass
class Shapes:
    bold: tuple
    anat: tuple
    small: tuple
    n_small: int
    keys: tuple

    @classmethod
    def of(cls, quick):
        if quick:
            return cls(bold=(32, 32, 20, 24), anat=(64, 64, 64), small=(16, 16, 8, 4), n_small=20,
                       keys=(32, 32, 20, 12))
        return cls(bold=(96, 96, 60, 200), anat=(256, 256, 256), small=(64, 64, 32, 8), n_small=200,
                   keys=(64, 64, 40, 60))


def say(*args):
    print(*args, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# Data generation

def ellipsoid(shape3, radii=(0.85, 0.95, 0.8)):
    axes = [np.linspace(-1, 1, n) for n in shape3]
    x, y, z = np.meshgrid(*axes, indexing='ij')
    return x, y, z, (x / radii[0]) ** 2 + (y / radii[1]) ** 2 + (z / radii[2]) ** 2


def bold_volumes(shape, seed=0, offset=0):
    """The volumes of an fMRI-like int16 run: a smooth bright ellipsoid (600-1200) with
    temporal noise and a slow drift inside, exact zeros outside."""
    rng = np.random.default_rng(seed)
    x, y, z, r2 = ellipsoid(shape[:3])
    inside = r2 < 1
    base = (900 + 300 * np.cos(3 * x) * np.sin(2 * y + z))[inside]
    for t in range(shape[3]):
        vol = np.zeros(shape[:3], np.int16)
        noise = rng.normal(0.0, 15.0, size=base.shape)
        vol[inside] = np.round(base + noise + 5.0 * np.sin(t / 20.0)) + offset
        yield vol


def f64_volume(vol, t, x, inside):
    """The float64 run: the int16 volume after a smooth non-integer transform, zeros outside."""
    out = np.zeros(vol.shape)
    out[inside] = vol[inside] * 0.731 + 12.5 * np.sin(5 * x[inside] + t / 7.0)
    return out


def anat_slices(shape):
    """z-slices of a float32 anatomical-like head: scalp and skull, a brain with a
    white/grey tissue pattern, a bias field and noise; exact zeros outside the head."""
    rng = np.random.default_rng(2)
    axes = [np.linspace(-1, 1, n) for n in shape]
    x, y = np.meshgrid(axes[0], axes[1], indexing='ij')
    for z in axes[2]:
        r2 = (x / 0.8) ** 2 + (y / 0.95) ** 2 + (z / 0.85) ** 2
        head, brain = r2 < 1, r2 < 0.8
        tissue = np.where(np.sin(9 * x) * np.sin(7 * y) * np.sin(8 * z) > -0.1, 110.0, 70.0)
        value = np.where(brain, tissue * (1 + 0.1 * x), 45.0) + rng.normal(0.0, 3.0, x.shape)
        yield np.where(head, value, 0.0).astype(np.float32)


def label_slices(shape):
    """z-slices of a uint8 label volume: ~100 parcels (angle x height) in the brain, 0 outside."""
    axes = [np.linspace(-1, 1, n) for n in shape]
    x, y = np.meshgrid(axes[0], axes[1], indexing='ij')
    for z in axes[2]:
        r2 = (x / 0.8) ** 2 + (y / 0.95) ** 2 + (z / 0.85) ** 2
        sector = np.floor((np.arctan2(y, x) + np.pi) / (2 * np.pi) * 12).astype(int) % 12
        level = int(np.clip((z + 1) * 4, 0, 7))
        yield np.where(r2 < 0.8, 1 + (sector + 12 * level) % 100, 0).astype(np.uint8)


def nifti_header(shape, dtype, slope=None, inter=None):
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(shape)
    hdr.set_data_dtype(dtype)
    hdr.set_sform(AFFINE, code=1)
    hdr.set_qform(AFFINE, code=1)
    hdr.set_zooms((2.5, 2.5, 2.5, 2.0)[:len(shape)])
    hdr.set_xyzt_units('mm', 'sec')
    if slope is not None:
        hdr.set_slope_inter(slope, inter)
    return hdr


class Writers:
    """Writes several files from one pass over an image's chunks (F order along the last axis):
    NIfTI files with nibabel's header writer and Opener (gzip level 1 for .gz, as nib.save),
    and .npy files in Fortran order. Each goes to a partial name, renamed when complete."""

    def __init__(self):
        self.files = []  # (tmp, final, kind, handle)

    def nifti(self, path, hdr):
        tmp = path.with_name('partial-' + path.name)  # Opener picks gzip by the extension
        f = Opener(str(tmp), 'wb')
        hdr.write_to(f)
        self.files.append((tmp, path, 'nifti', f))

    def npy(self, path, shape, dtype):
        tmp = path.with_name('partial-' + path.name)
        arr = np.lib.format.open_memmap(tmp, 'w+', dtype, shape, fortran_order=True)
        self.files.append((tmp, path, 'npy', [arr, 0]))

    def write(self, chunks):
        """`chunks` maps each file's partial name to its next chunk."""
        for tmp, _, kind, handle in self.files:
            chunk = chunks[tmp.name]
            if kind == 'nifti':
                handle.write(chunk.tobytes(order='F'))
            else:
                handle[0][..., handle[1]] = chunk
                handle[1] += 1

    def close(self):
        for tmp, path, kind, handle in self.files:
            if kind == 'nifti':
                handle.close()
            else:
                handle[0].flush()
                del handle[0]
            tmp.rename(path)


class Data:
    """The files of every data kind, generated on first use (and kept in the directory)."""

    def __init__(self, root: Path, shapes: Shapes, quick: bool, sides: set, notes: list):
        self.dir = root / f'{"quick" if quick else "full"}-{DATA_VERSION}'
        self.dir.mkdir(parents=True, exist_ok=True)
        self.out = self.dir / 'out'
        self.out.mkdir(exist_ok=True)
        self.shapes, self.quick, self.sides, self.notes = shapes, quick, sides, notes
        self.ready = set()
        self.missing = {}  # kind -> why it cannot be made

    KIND_OF = {
        'bold.nii': 'bold', 'bold.nii.gz': 'bold', 'bold_scaled.nii': 'bold',
        'bold_scaled.nii.gz': 'bold', 'bold.npy': 'bold',
        'bold_f64.nii': 'bold_f64', 'bold_f64.nii.gz': 'bold_f64', 'bold_f64.npy': 'bold_f64',
        'anat.nii': 'anat', 'anat.nii.gz': 'anat', 'anat.npy': 'anat',
        'labels.nii': 'labels', 'labels.nii.gz': 'labels',
        'bold_sitk.nii.gz': 'bold_sitk', 'bold_neurovox.nii.gz': 'bold_neurovox',
        'header40': 'header40', 'small': 'small', 'real': 'real', 'keys.nii.gz': 'keys',
        'afni+orig.HEAD': 'afni', 'afnigz+orig.HEAD': 'afni', 'pet.v': 'ecat',
        'par_seq.PAR': 'parrec', 'par_interleaved.PAR': 'parrec',
        'minc1.mnc': 'minc', 'minc2.mnc': 'minc',
    }

    def path(self, name):
        """The path of a data file or directory, made first if needed; None if it cannot be."""
        kind = self.KIND_OF[name]
        if not self.ensure(kind):
            return None
        return self.dir / name

    def ensure(self, kind):
        if kind in self.ready:
            return True
        if kind in self.missing:
            return False
        make = getattr(self, 'make_' + kind)
        try:
            why = make()
        except Exception as e:  # a generator failing is reported and its rows skipped
            why = f'{type(e).__name__}: {e}'
        if why:
            self.missing[kind] = why
            self.notes.append(f'data {kind} not available: {why}')
            say(f'  data {kind} not available: {why}')
            return False
        self.ready.add(kind)
        return True

    def all_exist(self, names):
        return all((self.dir / n).exists() for n in names)

    def make_bold(self):
        names = ['bold.nii', 'bold.nii.gz', 'bold_scaled.nii', 'bold_scaled.nii.gz', 'bold.npy']
        if self.all_exist(names):
            return None
        shape = self.shapes.bold
        say(f'  writing the bold run {shape} (int16, plain and scaled, .nii and .nii.gz, .npy) ...')
        w = Writers()
        plain, scaled = nifti_header(shape, np.int16), nifti_header(shape, np.int16, SLOPE, INTER)
        for name in names[:4]:
            w.nifti(self.dir / name, scaled if 'scaled' in name else plain)
        w.npy(self.dir / 'bold.npy', shape, np.int16)
        for vol in bold_volumes(shape):
            w.write({'partial-' + n: vol for n in names})
        w.close()
        return None

    def make_afni(self):
        """The bold run as an AFNI dataset: the same int16 sub-bricks, each with its own
        BRICK_FLOAT_FACS factor, in a plain .BRIK and in a .BRIK.gz (gzip level 1, as
        `3dcopy` with AFNI_COMPRESSOR=GZIP writes it, one member)."""
        names = ['afni+orig.HEAD', 'afni+orig.BRIK', 'afnigz+orig.HEAD', 'afnigz+orig.BRIK.gz']
        if self.all_exist(names):
            return None
        if not self.ensure('bold'):
            return 'the bold run is missing'
        shape = self.shapes.bold
        say(f'  writing the bold run as AFNI {shape} (int16, per-sub-brick factors, .BRIK and .BRIK.gz) ...')
        X, Y, Z, T = shape
        facs = ' '.join(f'{0.01 * (1 + t % 7):.6g}' for t in range(T))

        def attr(kind, name, count, values):
            return f'type = {kind}-attribute\nname = {name}\ncount = {count}\n{values}\n'
        head = '\n'.join([
            attr('integer', 'DATASET_RANK', 8, f'3 {T} 0 0 0 0 0 0'),
            attr('integer', 'DATASET_DIMENSIONS', 5, f'{X} {Y} {Z} 0 0'),
            attr('integer', 'BRICK_TYPES', T, ' '.join(['1'] * T)),
            attr('float', 'BRICK_FLOAT_FACS', T, facs),
            attr('float', 'DELTA', 3, '2 2 2.5'),
            attr('float', 'TAXIS_FLOATS', 5, '0 2 0 0 0'),
            attr('float', 'IJK_TO_DICOM_REAL', 12, '2 0 0 -90 0 2 0 -120 0 0 2.5 -70'),
            attr('string', 'BYTEORDER_STRING', 10, "'LSB_FIRST~"),
        ])
        for stem in ('afni', 'afnigz'):
            (self.dir / f'{stem}+orig.HEAD').write_text(head)
        src = self.dir / 'bold.nii'
        with open(src, 'rb') as f, open(self.dir / 'partial-afni+orig.BRIK', 'wb') as plain, \
                gzip.GzipFile(self.dir / 'partial-afnigz+orig.BRIK.gz', 'wb', compresslevel=1,
                              mtime=0) as packed:
            f.seek(352)
            while chunk := f.read(1 << 24):
                plain.write(chunk)
                packed.write(chunk)
        for name in ('afni+orig.BRIK', 'afnigz+orig.BRIK.gz'):
            os.replace(self.dir / f'partial-{name}', self.dir / name)
        return None

    def make_ecat(self):
        """The bold run as an ECAT7 file, as scanners write one: big-endian int16 frames, each
        after its subheader with its own scale factor, a calibration factor, head-first supine
        (so every frame is flipped on read)."""
        if self.all_exist(['pet.v']):
            return None
        if not self.ensure('bold'):
            return 'the bold run is missing'
        from nibabel import ecat
        X, Y, Z, T = self.shapes.bold
        say(f'  writing the bold run as ECAT7 {self.shapes.bold} (big-endian int16 frames) ...')
        frame_bytes = X * Y * Z * 2
        nblocks = -(-frame_bytes // 512)
        mlist_blocks = -(-T // 31)
        rows, block = [], 2 + mlist_blocks
        for t in range(T):
            rows.append([t + 1, block, block + nblocks, 1])
            block += 1 + nblocks
        main = np.zeros((), ecat.hdr_dtype.newbyteorder('>'))
        main['magic_number'], main['sw_version'], main['file_type'] = b'MATRIX72v', 74, 7
        main['num_frames'], main['num_planes'] = T, Z
        main['ecat_calibration_factor'], main['patient_orientation'] = 1.25, 3
        part = self.dir / 'partial-pet.v'
        with open(part, 'wb') as out, open(self.dir / 'bold.nii', 'rb') as src:
            out.write(main.tobytes())
            for b in range(mlist_blocks):
                chunk = rows[b * 31:(b + 1) * 31]
                table = np.zeros((32, 4), '>i4')
                table[0] = [31 - len(chunk), 3 + b if b + 1 < mlist_blocks else 2, 0, len(chunk)]
                table[1:len(chunk) + 1] = chunk
                out.write(table.tobytes())
            src.seek(352)
            for t in range(T):
                sub = np.zeros((), ecat.subhdr_dtype.newbyteorder('>'))
                sub['data_type'], sub['num_dimensions'] = 6, 3
                sub['x_dimension'], sub['y_dimension'], sub['z_dimension'] = X, Y, Z
                sub['scale_factor'] = 0.001 * (1 + t % 5)
                sub['x_pixel_size'] = sub['y_pixel_size'] = 0.2
                sub['z_pixel_size'] = 0.25
                out.write(sub.tobytes().ljust(512, b'\0'))
                frame = np.frombuffer(src.read(frame_bytes), '<i2').astype('>i2')
                out.write(frame.tobytes().ljust(nblocks * 512, b'\0'))
        os.replace(part, self.dir / 'pet.v')
        return None

    def make_parrec(self):
        """The bold run as Philips PAR/REC recordings (V4.2, uint16 slices, each with its own
        rescale slope and intercept): `par_seq` lists the slices volume by volume, as the
        scanner's default export does, and `par_interleaved` slice by slice, so the array's
        slices lie apart in the .REC (every slice its own read)."""
        names = ['par_seq.PAR', 'par_seq.REC', 'par_interleaved.PAR', 'par_interleaved.REC']
        if self.all_exist(names):
            return None
        if not self.ensure('bold'):
            return 'the bold run is missing'
        X, Y, Z, T = self.shapes.bold
        say(f'  writing the bold run as PAR/REC {self.shapes.bold} (uint16 slices, per-slice factors) ...')
        general = [
            ('Patient name', 'bench'), ('Examination name', 'neurovox'),
            ('Protocol name', 'bold'), ('Examination date/time', '2026.12.06 / 16:00:00'),
            ('Series Type', 'Image   MRSERIES'), ('Max. number of cardiac phases', 1),
            ('Max. number of echoes', 1), ('Max. number of slices/locations', Z),
            ('Max. number of dynamics', T), ('Scan resolution  (x, y)', f'{X}  {Y}'),
            ('Repetition time [ms]', '2000.000'),
            ('FOV (ap,fh,rl) [mm]', f'{2 * Y:.3f}  {2.5 * Z:.3f}  {2 * X:.3f}'),
            ('Angulation midslice(ap,fh,rl)[degr]', '-8.000  0.000  3.000'),
            ('Off Centre midslice(ap,fh,rl) [mm]', '2.500  30.000  -16.000'),
            ('EPI factor        <0,1=no EPI>', 39), ('Dynamic scan      <0=no 1=yes> ?', 1),
            ('Diffusion         <0=no 1=yes> ?', 0), ('Max. number of diffusion values', 1),
            ('Max. number of gradient orients', 1), ('Number of label types   <0=no ASL>', 0),
        ]
        head = ('# === DATA DESCRIPTION FILE ===\n'
                '# CLINICAL TRYOUT             Research image export tool     V4.2\n'
                '# === GENERAL INFORMATION ===\n'
                + ''.join(f'.    {k:<35}:   {v}\n' for k, v in general)
                + '# === IMAGE INFORMATION ===\n\n')

        def line(z, t, idx):
            slope, inter = 0.5 + 0.01 * ((z * 7 + t) % 11), float((z + t) % 5)
            return (f'{z + 1} 1 {t + 1} 1 0 2 {idx} 16 100 {X} {Y} {inter} {slope} 0.5 100 200 '
                    f'-8.0 0.0 3.0 2.5 30.0 -16.0 2.5 0.0 0 1 0 2 2.0 2.0 30.0 0.0 0.0 0.0 1 90.0 '
                    f'0 0 0 39 0.0 1 1 0 0 0.0 0.0 0.0 1\n')
        orders = {'par_seq': [(z, t) for t in range(T) for z in range(Z)],
                  'par_interleaved': [(z, t) for z in range(Z) for t in range(T)]}
        src = self.dir / 'bold.nii'
        slice_bytes = X * Y * 2
        with open(src, 'rb') as f:
            bold = np.memmap(f, np.int16, 'r', offset=352, shape=(X, Y, Z, T), order='F')
            for stem, order in orders.items():
                with open(self.dir / f'partial-{stem}.REC', 'wb') as rec:
                    for z, t in order:
                        rec.write(np.ascontiguousarray(bold[:, :, z, t].T).astype('<u2').tobytes())
                (self.dir / f'{stem}.PAR').write_text(
                    head + ''.join(line(z, t, k) for k, (z, t) in enumerate(order)) + '\n')
                os.replace(self.dir / f'partial-{stem}.REC', self.dir / f'{stem}.REC')
            del bold
        assert (self.dir / 'par_seq.REC').stat().st_size == slice_bytes * Z * T
        return None

    def make_minc(self):
        """The bold run as MINC images, as MINC tools write them: dimensions (time, zspace,
        yspace, xspace) in C order (the NIfTI's bytes in the same order), int16 with
        `image-min` / `image-max` per (time, zspace) slice. `minc1.mnc` is netCDF classic
        (big-endian, nibabel's own netCDF writer; nibabel's load refuses the 64-bit offset
        variant); `minc2.mnc` HDF5 with libminc's default chunks (32 per
        spatial axis, one volume deep) deflated at level 4 (h5py)."""
        names = ['minc1.mnc', 'minc2.mnc']
        if self.all_exist(names):
            return None
        if not self.ensure('bold'):
            return 'the bold run is missing'
        try:
            import h5py
        except ImportError:
            return 'h5py is not installed'
        from nibabel.externals.netcdf import netcdf_file
        X, Y, Z, T = self.shapes.bold
        say(f'  writing the bold run as MINC1 and MINC2 {(T, Z, Y, X)} (int16, per-slice scaling) ...')
        with open(self.dir / 'bold.nii', 'rb') as f:
            data = np.fromfile(f, '<i2', offset=352).reshape(T, Z, Y, X)
        imin = np.linspace(-10.0, -5.0, T * Z).reshape(T, Z)
        imax = np.linspace(900.0, 1100.0, T * Z).reshape(T, Z)
        dims = [('time', T, 2.0, 0.0, None), ('zspace', Z, 2.5, -70.0, [0, 0, 1]),
                ('yspace', Y, 2.0, -96.0, [0, 1, 0]), ('xspace', X, 2.0, -96.0, [1, 0, 0])]
        part = self.dir / 'partial-minc1.mnc'
        nc = netcdf_file(str(part), 'w', version=1)
        for name, n, step, start, cosines in dims:
            nc.createDimension(name, n)
            var = nc.createVariable(name, 'i', ())
            var.spacing, var.step, var.start = b'regular__', step, start
            if cosines is not None:
                var.direction_cosines = np.array(cosines, float)
        image = nc.createVariable('image', 'h', [d[0] for d in dims])
        image.signtype, image.valid_range = b'signed__', np.array([-32768.0, 32767.0])
        image[:] = data
        for name, values in [('image-min', imin), ('image-max', imax)]:
            var = nc.createVariable(name, 'd', ('time', 'zspace'))
            var[:] = values
        nc.close()
        os.replace(part, self.dir / 'minc1.mnc')
        part = self.dir / 'partial-minc2.mnc'
        with h5py.File(part, 'w') as h5:
            dimorder = np.bytes_(','.join(d[0] for d in dims))
            for name, n, step, start, cosines in dims:
                var = h5.create_dataset(f'minc-2.0/dimensions/{name}', data=0, dtype='i4')
                var.attrs['spacing'], var.attrs['step'] = np.bytes_('regular__'), step
                var.attrs['start'], var.attrs['length'] = start, n
                if cosines is not None:
                    var.attrs['direction_cosines'] = np.array(cosines, float)
            image = h5.create_dataset('minc-2.0/image/0/image', data=data,
                                      chunks=(1, min(Z, 32), min(Y, 32), min(X, 32)),
                                      compression='gzip', compression_opts=4)
            image.attrs['dimorder'] = dimorder
            image.attrs['valid_range'] = np.array([-32768.0, 32767.0])
            for name, values in [('image-min', imin), ('image-max', imax)]:
                var = h5.create_dataset(f'minc-2.0/image/0/{name}', data=values)
                var.attrs['dimorder'] = np.bytes_('time,zspace')
        os.replace(part, self.dir / 'minc2.mnc')
        return None

    def make_bold_f64(self):
        names = ['bold_f64.nii', 'bold_f64.nii.gz', 'bold_f64.npy']
        if self.all_exist(names):
            return None
        shape = self.shapes.bold
        say(f'  writing the float64 run {shape} (.nii, .nii.gz, .npy) ...')
        x, _, _, r2 = ellipsoid(shape[:3])
        inside = r2 < 1
        w = Writers()
        hdr = nifti_header(shape, np.float64)
        w.nifti(self.dir / names[0], hdr)
        w.nifti(self.dir / names[1], hdr)
        w.npy(self.dir / names[2], shape, np.float64)
        for t, vol in enumerate(bold_volumes(shape)):
            chunk = f64_volume(vol, t, x, inside)
            w.write({'partial-' + n: chunk for n in names})
        w.close()
        return None

    def make_volume3(self, stem, dtype, slices, with_npy):
        names = [f'{stem}.nii', f'{stem}.nii.gz'] + ([f'{stem}.npy'] if with_npy else [])
        if self.all_exist(names):
            return None
        shape = self.shapes.anat
        say(f'  writing {stem} {shape} {np.dtype(dtype).name} ...')
        w = Writers()
        hdr = nifti_header(shape, dtype)
        w.nifti(self.dir / names[0], hdr)
        w.nifti(self.dir / names[1], hdr)
        if with_npy:
            w.npy(self.dir / names[2], shape, dtype)
        for chunk in slices(shape):
            w.write({'partial-' + n: chunk for n in names})
        w.close()
        return None

    def make_anat(self):
        return self.make_volume3('anat', np.float32, anat_slices, True)

    def make_labels(self):
        return self.make_volume3('labels', np.uint8, label_slices, False)

    def make_small(self):
        directory = self.dir / 'small'
        directory.mkdir(exist_ok=True)
        n, shape = self.shapes.n_small, self.shapes.small
        if len(list(directory.glob('*.nii.gz'))) == n:
            return None
        say(f'  writing {n} small runs {shape} with nib.save ...')
        base = np.stack(list(bold_volumes(shape, seed=1)), axis=-1)
        inside = base != 0
        for i in range(n):
            path = directory / f'run{i:03d}.nii.gz'
            if not path.exists():
                data = np.where(inside, base + np.int16(i), 0).astype(np.int16)
                nib.save(nib.Nifti1Image(data, AFFINE), path)
        return None

    def make_keys(self):
        """The random-access run of issue 13: an fMRI-like int16 run of 64x64x40x60 (20 MB)
        saved with nib.save, for many small keys on one image."""
        path = self.dir / 'keys.nii.gz'
        if path.exists():
            return None
        shape = self.shapes.keys
        say(f'  writing keys.nii.gz {shape} with nib.save ...')
        data = np.stack(list(bold_volumes(shape, seed=3)), axis=-1)
        tmp = self.dir / 'partial-keys.nii.gz'
        nib.save(nib.Nifti1Image(data, AFFINE), tmp)
        tmp.rename(path)
        return None

    def make_header40(self):
        sources = [self.path(n) for n in
                   ('bold.nii.gz', 'bold_scaled.nii.gz', 'anat.nii.gz', 'labels.nii.gz')]
        if None in sources:
            return 'a source image is missing'
        directory = self.dir / 'header40'
        shutil.rmtree(directory, ignore_errors=True)  # links to the current files
        directory.mkdir()
        for i in range(40):
            source = sources[i % 4]
            link = directory / f'{i:02d}_{source.name}'
            try:
                os.link(source, link)
            except OSError:
                os.symlink(source, link)
        return None

    def make_real(self):
        directory = self.dir / 'real'
        directory.mkdir(exist_ok=True)
        nib_data = Path(nib.__file__).parent / 'tests' / 'data'
        for f in sorted(nib_data.glob('*.nii*')):
            if type(nib.load(f)) in (nib.Nifti1Image, nib.Nifti2Image):  # not the CIFTI file
                target = directory / f'nibabel_{f.name}'
                if not target.exists():
                    shutil.copyfile(f, target)
        if not list(directory.glob('nilearn_*')):
            try:
                for src_name, data in nilearn_templates(self.dir.parent / 'wheels'):
                    (directory / f'nilearn_{src_name}').write_bytes(data)
            except Exception as e:
                self.notes.append(f'nilearn templates not available ({e}): real images are '
                                  "nibabel's test data only")
                say(f'  nilearn templates not available: {e}')
        return None

    def make_bold_sitk(self):
        if 'sitk' not in self.sides:
            return 'SimpleITK is not available'
        path = self.dir / 'bold_sitk.nii.gz'
        if path.exists():
            return None
        src = self.path('bold.nii')
        say('  writing bold_sitk.nii.gz with SimpleITK ...')
        tmp = self.dir / 'partial-bold_sitk.nii.gz'
        report = run_side('sitk', {'op': 'convert', 'repeats': 1, 'path': str(src), 'out': str(tmp)})
        if 'error' in report:
            return report['error']
        tmp.rename(path)
        return None

    def make_bold_neurovox(self):
        """Written again every run: it is the current writer's file."""
        src = self.path('bold.nii')
        path = self.dir / 'bold_neurovox.nii.gz'
        tmp = self.dir / 'partial-bold_neurovox.nii.gz'
        spec = {'op': 'convert', 'repeats': 1, 'path': str(src), 'out': str(tmp)}
        for side in ('rust', 'py'):
            if side in self.sides:
                say(f'  writing bold_neurovox.nii.gz with neurovox ({side}) ...')
                report = run_side(side, spec)
                if 'error' not in report:
                    tmp.rename(path)
                    return None
        return 'no neurovox side to write it'


def nilearn_templates(wheel_dir: Path):
    """(name, bytes) of the .nii.gz images nilearn ships in its package data: from the
    installed package if there is one, else from its wheel (pip download --no-deps)."""
    spec = importlib.util.find_spec('nilearn')
    if spec is not None and spec.origin:
        data = Path(spec.origin).parent / 'datasets' / 'data'
        return [(p.name, p.read_bytes()) for p in sorted(data.glob('*.nii.gz'))]
    version = pins().get('nilearn')
    wheel_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(wheel_dir.glob(f'nilearn-{version}-*.whl'))
    if not wheels:
        say(f'  fetching the nilearn {version} wheel for its template images ...')
        subprocess.run([sys.executable, '-m', 'pip', 'download', '-q', '--no-deps',
                        f'nilearn=={version}', '-d', str(wheel_dir)], check=True,
                       stdout=sys.stderr)
        wheels = sorted(wheel_dir.glob(f'nilearn-{version}-*.whl'))
    with zipfile.ZipFile(wheels[-1]) as z:
        names = sorted(n for n in z.namelist()
                       if n.startswith('nilearn/datasets/data/') and n.endswith('.nii.gz'))
        return [(Path(n).name, z.read(n)) for n in names]


def pins(path=PINS):
    out = {}
    for line in path.read_text().splitlines():
        line = line.split('#')[0].strip()
        if '==' in line:
            name, version = line.split('==')
            out[name.strip().lower()] = version.strip()
    return out


# ------------------------------------------------------------------------------------------
# Sides

def ensure_package(name, module, pin_file=PINS):
    """True when `module` imports in this Python, installing the pinned `name` if needed."""
    check = [sys.executable, '-c', f'import {module}']
    if subprocess.run(check, capture_output=True).returncode == 0:
        return True, None
    version = pins(pin_file).get(name.lower())
    say(f'installing {name}=={version} into {sys.prefix} ...')
    pip = subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', f'{name}=={version}'],
                         capture_output=True, text=True)
    if pip.returncode != 0 or subprocess.run(check, capture_output=True).returncode != 0:
        tail = (pip.stderr or pip.stdout).strip().splitlines()[-1:] or ['']
        return False, f'{name}=={version} could not be installed: {tail[0]}'
    return True, None


def ensure_sitk():
    return ensure_package('SimpleITK', 'SimpleITK')


def ensure_igzip():
    return ensure_package('indexed_gzip', 'indexed_gzip', ORACLE_PINS)


def ensure_rapidgzip():
    return ensure_package('rapidgzip', 'rapidgzip')


@functools.cache
def ensure_rust():
    """Builds bench_io once per run: the rust and limit sides, and neurovox's index files."""
    # With ISA-L, as the command and the Python package are built (scripts/test.sh installs it).
    say('building the Rust side: cargo build --release -p neurovox --features isal --example bench_io ...')
    build = subprocess.run(['cargo', 'build', '--release', '-q', '-p', 'neurovox', '--features', 'isal',
                            '--example', 'bench_io'], cwd=ROOT, capture_output=True, text=True)
    if build.returncode != 0:
        lines = [l for l in build.stderr.splitlines() if l.startswith('error')][:3]
        return False, 'bench_io did not build: ' + ('; '.join(lines) or build.stderr[-300:])
    return True, None


def ensure_py():
    check = subprocess.run([sys.executable, '-c', 'import neurovox; neurovox.load'],
                           capture_output=True, text=True)
    if check.returncode != 0:
        tail = check.stderr.strip().splitlines()[-1:] or ['']
        return False, f'the neurovox Python package does not import here: {tail[0]}'
    return True, None


def side_command(side, spec):
    text = json.dumps(spec)
    if side in ('rust', 'limit'):
        return [str(EXAMPLE), text]
    library = {'nibabel': 'nibabel', 'py': 'neurovox', 'sitk': 'sitk', 'igzip': 'igzip',
               'rapidgzip': 'rapidgzip'}[side]
    return [sys.executable, str(SIDE_SCRIPT), library, text]


def run_side(side, spec, timeout=3600, env=None):
    """One side's report (a dict), or {'error': why} when the process failed. `env`: variables
    to set (a value of None removes the variable) in the side's process."""
    environ = None
    if env:
        environ = dict(os.environ)
        for key, value in env.items():
            if value is None:
                environ.pop(key, None)
            else:
                environ[key] = value
    try:
        proc = subprocess.run(side_command(side, spec), capture_output=True, text=True,
                              timeout=timeout, env=environ)
    except subprocess.TimeoutExpired:
        return {'error': f'timed out after {timeout} s'}
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        return {'error': f'exit code {proc.returncode}: ' + ' | '.join(tail)}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {'error': f'no JSON report: {proc.stdout[-200:]!r}'}


# ------------------------------------------------------------------------------------------
# The rows

@dataclass
class Row:
    label: str
    op: str
    goal: float                # time-ratio goal for the neurovox sides
    spec: dict                 # file fields name data files (see Data.KIND_OF)
    sitk: dict | None = None   # SimpleITK's spec overrides; None: no SimpleITK cell
    rust: bool = True          # False: no Rust equivalent
    rtol: float = 1e-9
    saves: bool = False
    anchor: str | None = None  # 'first' or 'indexed': a whole .nii.gz read with the anchors

    FILE_FIELDS = ('path', 'dir', 'npy')


PLAIN, GZ_READ, GZ_SAVE = 1.5, 2.0, 3.0


def gz_goal(name):
    return GZ_READ if name.endswith('.gz') else PLAIN


def build_rows(shapes: Shapes):
    X, Y, Z, T = shapes.bold
    v = 100 if T > 100 else T // 2
    late = min(170, T - 1)
    warm = [v + i * max(1, T // 10) for i in range(4)]
    rows = []

    def add(label, op, goal, sitk=None, rust=True, rtol=1e-9, saves=False, anchor=None, **spec):
        rows.append(Row(label, op, goal, spec, sitk, rust, rtol, saves, anchor))

    # Header-only loads of many files.
    add('header-only load x40 .nii.gz (full-size bold/scaled/anat/labels)', 'header_many',
        GZ_READ, sitk={}, dir='header40')
    add(f'header-only load x{shapes.n_small} .nii.gz (small runs)', 'header_many', GZ_READ,
        sitk={}, dir='small')

    # get_fdata, float64 and float32, of every kind.
    kinds = [('bold', 'int16', True), ('bold_scaled', 'int16 scaled', True),
             ('anat', 'float32', True), ('labels', 'uint8', False), ('bold_f64', 'float64', False)]
    for stem, desc, with_f32 in kinds:
        for dtype in ('float64', 'float32') if with_f32 else ('float64',):
            call = 'get_fdata()' if dtype == 'float64' else 'get_fdata(dtype=float32)'
            for ext in ('.nii', '.nii.gz'):
                add(f'{call} {desc} {ext}', 'fdata', gz_goal(ext), sitk={},
                    path=stem + ext, dtype=dtype)
    for stem, who in (('bold_sitk', 'SimpleITK'), ('bold_neurovox', 'neurovox')):
        add(f'get_fdata() int16 {who}-written .nii.gz', 'fdata', GZ_READ, sitk={},
            path=stem + '.nii.gz', dtype='float64')

    # np.asarray(img.dataobj): the stored type, or float64 when scaled.
    for name, desc, sitk_dtype in [
            ('bold.nii', 'int16', None), ('bold.nii.gz', 'int16', None),
            ('bold_scaled.nii', 'int16 scaled', 'float64'),
            ('bold_scaled.nii.gz', 'int16 scaled', 'float64'),
            ('labels.nii.gz', 'uint8', None), ('anat.nii.gz', 'float32', None),
            ('bold_sitk.nii.gz', 'int16 SimpleITK-written', None),
            ('bold_neurovox.nii.gz', 'int16 neurovox-written', None)]:
        ext = '.nii.gz' if name.endswith('.gz') else '.nii'
        label_ext = '' if 'written' in desc else f' {ext}'
        add(f'np.asarray(dataobj) {desc}{label_ext}', 'asarray', gz_goal(name),
            sitk={'sitk_dtype': sitk_dtype}, path=name)

    # Whole reads of .nii.gz beside the gzip anchors (indexed_gzip, rapidgzip, the one-core
    # limit), as each writer wrote the run: a fresh process with no index anywhere, then a
    # second process that finds each tool's index (built untimed before the row).
    for name, who in [('bold.nii.gz', 'nibabel'), ('bold_sitk.nii.gz', 'SimpleITK'),
                      ('bold_neurovox.nii.gz', 'neurovox')]:
        for anchor, when in [('first', 'first read (no index anywhere)'),
                             ('indexed', 'second process (index found)')]:
            add(f'whole .nii.gz read, int16 {who}-written, {when}', 'asarray', GZ_READ,
                sitk={'sitk_dtype': None}, anchor=anchor, path=name)

    # AFNI datasets (read only, per-sub-brick factors): load + one volume, and the full read.
    for name, desc in [('afni+orig.HEAD', '.BRIK'), ('afnigz+orig.HEAD', '.BRIK.gz')]:
        goal = GZ_READ if desc.endswith('.gz') else PLAIN
        add(f'AFNI load + one volume dataobj[..., {v}], cold, int16 scaled {desc}', 'slice',
            goal, path=name, key=['...', v])
        add(f'AFNI get_fdata() int16 scaled {desc}', 'fdata', goal, path=name,
            dtype='float64')

    # ECAT7 (read only; frames apart in the file, per-frame factors, flipped on read).
    add(f'ECAT7 load + one frame dataobj[..., {v}], cold, int16 big-endian', 'slice', PLAIN,
        path='pet.v', key=['...', v])
    add('ECAT7 get_fdata() int16 big-endian', 'fdata', PLAIN, path='pet.v', dtype='float64')

    # PAR/REC (read only; slices sorted, per-slice factors): in file order, and interleaved so
    # that every slice of a volume lies apart in the .REC.
    for name, desc in [('par_seq.PAR', 'slices in volume order'),
                       ('par_interleaved.PAR', 'slices interleaved')]:
        add(f'PAR/REC load + one volume dataobj[..., {v}], cold, {desc}', 'slice', PLAIN,
            path=name, key=['...', v])
        add(f'PAR/REC get_fdata() {desc}', 'fdata', PLAIN, path=name, dtype='float64')

    # MINC (read only; integers clipped and scaled per (time, zspace) slice): netCDF read by
    # offset, HDF5 by deflated chunks. The first axis is time, so a volume is dataobj[t].
    for name, desc in [('minc1.mnc', 'MINC1 (netCDF)'), ('minc2.mnc', 'MINC2 (HDF5, gzip chunks)')]:
        add(f'{desc} load + one volume dataobj[{v}], cold, int16 scaled', 'slice', PLAIN,
            path=name, key=[v])
        add(f'{desc} get_fdata() int16 scaled', 'fdata', PLAIN, path=name, dtype='float64')

    # One volume, cold (a freshly loaded image) and warm (after a full get_fdata pass).
    for name, desc, t in [('bold.nii', 'int16 .nii', v), ('bold.nii.gz', 'int16 .nii.gz', v),
                          ('bold_scaled.nii.gz', 'int16 scaled .nii.gz', v),
                          ('bold_sitk.nii.gz', 'SimpleITK-written .nii.gz', v),
                          ('bold_neurovox.nii.gz', 'neurovox-written .nii.gz', late)]:
        add(f'one volume dataobj[..., {t}], cold, {desc}', 'slice', gz_goal(name),
            path=name, key=['...', t])
    for ext in ('.nii', '.nii.gz'):
        add(f'{len(warm)} volumes dataobj[..., t] after a full get_fdata pass (warm), int16 {ext}',
            'volumes_warm', gz_goal(ext), path='bold' + ext, volumes=warm)

    # Slabs along each axis.
    for key, text in [([X // 2], f'[{X // 2}]'), ([None, Y // 2], f'[:, {Y // 2}]'),
                      ([None, None, Z // 2], f'[:, :, {Z // 2}]')]:
        for ext in ('.nii', '.nii.gz'):
            add(f'slab dataobj{text}, cold, int16 {ext}', 'slice', gz_goal(ext),
                path='bold' + ext, key=key)

    # Many small keys on one freshly loaded image (issue 13's random-access workload): every
    # fifth key of each kind [i, j, ...], [..., t], [:, j, k], [i, :, :, t], [i, j, k].
    rng = np.random.default_rng(30)
    keys = []
    for n in range(30):
        i, j, k, t = (int(rng.integers(d)) for d in shapes.keys)
        keys.append([[i, j, '...'], ['...', t], [None, j, k], [i, None, None, t], [i, j, k]][n % 5])
    add('30 random keys on one freshly loaded image (then again: warm), int16 .nii.gz '
        f'{"x".join(map(str, shapes.keys))}', 'keys', GZ_READ, path='keys.nii.gz', keys=keys)

    # get_fdata then is_dirty (nibabel has no is_dirty: its time is get_fdata's alone).
    for ext in ('.nii', '.nii.gz'):
        add(f'get_fdata() then is_dirty, int16 {ext}', 'fdata_is_dirty', gz_goal(ext),
            path='bold' + ext)

    # Saves of array images, the array made untimed in the side's process.
    for npy, desc, set_dtype, sitk in [
            ('bold.npy', 'int16 array', None, {}),
            ('bold_f64.npy', 'float64 array, set_data_dtype(int16) (scaling writer)', 'int16', None),
            ('anat.npy', 'float32 array', None, {})]:
        for ext in ('.nii', '.nii.gz'):
            add(f'save Nifti1Image({desc}) to {ext}', 'save_array',
                GZ_SAVE if ext == '.nii.gz' else PLAIN, sitk=sitk, saves=True,
                rtol=1e-9, npy=npy, set_dtype=set_dtype, out_ext=ext)

    # Load-then-save conversions of proxy images.
    for name, desc, ext, sitk, rtol in [
            ('bold.nii.gz', 'int16 .nii.gz', '.nii', {}, 1e-9),
            ('bold.nii', 'int16 .nii', '.nii.gz', {}, 1e-9),
            ('bold_scaled.nii', 'int16 scaled .nii', '.nii.gz', None, 1e-4),
            ('anat.nii.gz', 'float32 .nii.gz', '.nii', {}, 1e-9)]:
        goal = GZ_SAVE if ext == '.nii.gz' else gz_goal(name)
        add(f'load {desc}, save to {ext}', 'convert', goal, sitk=sitk, saves=True, rtol=rtol,
            path=name, out_ext=ext)

    # Pickling round trips, then one volume.
    for name, desc, first in [('bold.nii', 'int16 .nii', False),
                              ('bold.nii.gz', 'int16 .nii.gz', False),
                              ('bold.nii.gz', 'int16 .nii.gz after get_fdata()', True)]:
        add(f'pickle round trip + dataobj[..., {v}], {desc}', 'pickle', gz_goal(name),
            path=name, key=['...', v], fdata_first=first)

    # Many small real images.
    add('get_fdata() of each real image (nibabel test data, nilearn templates)', 'real_many',
        GZ_READ, sitk={}, dir='real')
    return rows


# ------------------------------------------------------------------------------------------
# Running and reporting

def warm_page_cache(paths):
    for path in paths:
        files = sorted(path.iterdir()) if path.is_dir() else [path]
        for f in files:
            with open(f, 'rb') as handle:
                while handle.read(1 << 24):
                    pass


def read_back(path):
    """What nibabel reads from a saved file: shape, dtype name, float64 sum; and its size."""
    img = nib.load(path)
    data = np.asanyarray(img.dataobj)
    result = {'shape': list(data.shape), 'dtype': data.dtype.name,
              'checksum': float(np.sum(data, dtype=np.float64)), 'bytes': path.stat().st_size}
    del data, img
    return result


def same(a, b, rtol):
    """Whether side b's result is nibabel's (a's): shape, dtype, float64 sum (JSON null = NaN);
    for real_many, file by file over the files b could read (b must read all but those
    SimpleITK names as unreadable)."""
    def close(x, y):
        x, y = (np.nan if v is None else v for v in (x, y))
        return bool(np.isclose(x, y, rtol=rtol, atol=0, equal_nan=True))
    if 'sums' in a.get('extra', {}):
        sums_a, sums_b = a['extra']['sums'], b.get('extra', {}).get('sums', {})
        skipped = set(b.get('extra', {}).get('skipped', []))
        return (set(sums_a) == set(sums_b) | skipped
                and all(close(sums_a[n], sums_b[n]) for n in sums_b))
    if a['shape'] != b['shape'] or a['dtype'] != b['dtype']:
        return False
    return close(a['checksum'], b['checksum'])


def run_row(row: Row, data: Data, sides, repeats):
    """{side: report} for the row; a report may hold 'error' or 'differs'."""
    spec = {'op': row.op, 'repeats': repeats}
    inputs = []
    for key, value in row.spec.items():
        if key in Row.FILE_FIELDS:
            path = data.path(value)
            if path is None:
                return None
            spec[key] = str(path)
            inputs.append(path)
        elif key != 'out_ext':
            spec[key] = value
    warm_page_cache(inputs)
    reports = {}
    index_dir = data.out / 'index'
    shutil.rmtree(index_dir, ignore_errors=True)
    prepared = prepare_indexes(row, spec, sides, index_dir) if row.anchor == 'indexed' else {}
    for side in sides:
        if side == 'sitk' and row.sitk is None or side == 'rust' and not row.rust:
            continue
        if side in ANCHOR_SIDES and row.anchor is None:
            continue
        side_spec = dict(spec, **(row.sitk or {})) if side == 'sitk' else dict(spec)
        env = None
        if row.anchor:
            side_spec, env = anchor_spec(row, side, side_spec, prepared.get(side, {}))
        if 'error' in prepared.get(side, {}):
            reports[side] = prepared[side]
            say(f"    {side:8s} ERROR {prepared[side]['error']}")
            continue
        out = None
        if row.saves:
            out = data.out / f'{side}{row.spec["out_ext"]}'
            side_spec['out'] = str(out)
        report = run_side(side, side_spec, env=env)
        if side in prepared:
            report.setdefault('extra', {}).update(prepared[side].get('extra', {}))
        if out is not None:
            if 'error' not in report:
                try:
                    report.update(read_back(out))
                except Exception as e:
                    report['error'] = f'nibabel cannot read its output back: {e}'
            out.unlink(missing_ok=True)
        reports[side] = report
        say(f'    {side:8s} ' + (f"ERROR {report['error']}" if 'error' in report else
                                  f"{report['seconds']:.4g} s  {report['peak_rss_mib']:.0f} MiB"))
    shutil.rmtree(index_dir, ignore_errors=True)
    reference = reports.get('nibabel')
    if reference and 'error' not in reference:
        for side, report in reports.items():
            if side != 'nibabel' and 'error' not in report and not same(reference, report, row.rtol):
                report['differs'] = True
                say(f'!!! {row.label}: {SIDE_NAMES[side]} differs from nibabel: '
                    f"nibabel {fmt_summary(reference)}, {side} {fmt_summary(report)}")
    return reports


def data_layout(path):
    """Where a side that reads raw bytes finds the data: offset, shape, numpy dtype string and
    the decompressed size, from nibabel's header (an unscaled image)."""
    img = nib.load(path)
    offset = int(img.dataobj.offset)
    dtype = img.get_data_dtype()
    shape = list(img.shape)
    return {'offset': offset, 'shape': shape, 'dtype': dtype.str,
            'total': offset + int(np.prod(shape)) * dtype.itemsize}


def prepare_indexes(row, spec, sides, index_dir):
    """Builds, untimed, each tool's index of the row's file in its own format, in `index_dir`:
    {side: {'index': path} or {'env': ...} or {'error': why}, with 'extra' facts}."""
    path = Path(spec['path'])
    index_dir.mkdir(parents=True)
    prepared = {}
    neurovox = [s for s in NEUROVOX_SIDES if s in sides]
    if neurovox:
        ok, why = ensure_rust()
        cache = index_dir / 'neurovox'
        env = {'NEUROVOX_GZIP_INDEX_DIR': str(cache), 'NEUROVOX_GZIP_INDEX': None}
        report = (run_side('rust', {'op': 'gzip_index', 'path': str(path)}, env=env) if ok
                  else {'error': f'no neurovox index: {why}'})
        if 'error' in report:
            result = {'error': f"building neurovox's index: {report['error']}"}
        else:
            result = {'env': env, 'extra': report.get('extra', {})}
        for side in neurovox:
            prepared[side] = result
    for side, suffix in (('igzip', '.gzidx'), ('rapidgzip', '.rgzidx')):
        if side in sides:
            index = index_dir / (path.name + suffix)
            report = run_side(side, dict(spec, op='gz_index', index=str(index)))
            prepared[side] = ({'error': f"building {side}'s index: {report['error']}"}
                              if 'error' in report else
                              {'index': str(index), 'extra': report.get('extra', {})})
    for side in prepared:
        say(f'    {side:8s} index: ' + prepared[side].get('error', json.dumps(
            prepared[side].get('extra', {}))))
    return prepared


def anchor_spec(row, side, spec, prepared):
    """The spec and environment of one side in a whole .nii.gz read row."""
    env = None
    if side in NEUROVOX_SIDES:
        env = prepared.get('env') if row.anchor == 'indexed' else {'NEUROVOX_GZIP_INDEX': 'off'}
    if side in ANCHOR_SIDES:
        spec = dict(spec, **data_layout(spec['path']))
        spec['op'] = 'inflate_limit' if side == 'limit' else 'gz_whole'
        if 'index' in prepared:
            spec['index'] = prepared['index']
    return spec, env


def fmt_summary(r):
    return f"shape {r['shape']} dtype {r['dtype']} sum {r['checksum']!r}"


def fmt_seconds(s):
    return f'{s:.3g}' if s < 0.01 else f'{s:.3f}' if s < 10 else f'{s:.1f}'


def ratio_cell(value, goal, judged):
    text = f'{value:.2f}x'
    return text + '!' if judged and value < goal else text


def notes_for(row, reports):
    notes = []
    if row.saves:
        sizes = [f'{s} {r["bytes"] / 1e6:.1f}' for s, r in reports.items() if 'bytes' in r]
        notes.append('MB: ' + ', '.join(sizes))
    if row.op == 'fdata_is_dirty':
        for s, r in reports.items():
            extra = r.get('extra', {})
            if 'is_dirty_s' in extra:
                notes.append(f"is_dirty {s} {extra['is_dirty_s'] * 1e3:.3g} ms"
                             + (' (dirty!)' if extra.get('is_dirty') else ''))
    if row.op == 'keys':
        warm = [f"{s} {r['extra']['warm_s']:.3g} s" for s, r in reports.items()
                if 'warm_s' in r.get('extra', {})]
        notes.append('warm: ' + ', '.join(warm))
    if row.anchor == 'indexed':
        sizes = [f"{s} {r['extra']['index_bytes']}" for s, r in reports.items()
                 if 'index_bytes' in r.get('extra', {})]
        inside = [s for s, r in reports.items() if r.get('extra', {}).get('index') == 'members']
        if sizes:
            notes.append('index bytes: ' + ', '.join(sizes))
        if inside:
            notes.append(f"{', '.join(inside)}: the file's own member index (no index file)")
    if row.op == 'pickle':
        sizes = [f"{s} {r['extra']['pickle_bytes']}" for s, r in reports.items()
                 if 'pickle_bytes' in r.get('extra', {})]
        notes.append('pickle bytes: ' + ', '.join(sizes))
    for s, r in reports.items():
        if r.get('extra', {}).get('skipped'):
            notes.append(f"{s} cannot read {', '.join(r['extra']['skipped'])} (left out of its "
                         'time and its check)')
        if 'error' in r:
            notes.append(f'{s} failed: {r["error"][:160]}')
        if r.get('differs'):
            notes.append(f'{s} DIFFERS: {fmt_summary(r)}')
    return '; '.join(notes)


def table(results, sides):
    others = [s for s in sides if s != 'nibabel']
    head = ['operation', 'goal', 'nibabel s', 'nibabel MiB']
    for s in others:
        head += [f'{s} s', f'{s} time', f'{s} MiB', f'{s} mem']
    head.append('notes')
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '---|' + '--:|' * (len(head) - 2) + '---|']
    for row, reports in results:
        nb = reports.get('nibabel', {})
        nb_ok = nb and 'error' not in nb
        cells = [row.label, f'{row.goal:g}x',
                 fmt_seconds(nb['seconds']) if nb_ok else '—',
                 f"{nb['peak_rss_mib']:.0f}" if nb_ok else '—']
        for s in others:
            r = reports.get(s)
            if r is None or 'error' in r:
                cells += ['ERROR' if r else '', '', '', '']
                continue
            judged = s in NEUROVOX_SIDES
            mark = ' DIFFERS' if r.get('differs') else ''
            cells.append(fmt_seconds(r['seconds']) + mark)
            cells.append(ratio_cell(nb['seconds'] / r['seconds'], row.goal, judged) if nb_ok else '')
            cells.append(f"{r['peak_rss_mib']:.0f}")
            cells.append(ratio_cell(nb['peak_rss_mib'] / r['peak_rss_mib'], 1.0, judged)
                         if nb_ok else '')
        cells.append(notes_for(row, reports))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def command_output(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return ''


def machine_facts():
    def read(path):
        try:
            return Path(path).read_text().strip()
        except OSError:
            return '?'
    model = next((l.split(':', 1)[1].strip() for l in read('/proc/cpuinfo').splitlines()
                  if l.startswith('model name')), '?')
    mem = next((l.split(':', 1)[1].strip() for l in read('/proc/meminfo').splitlines()
                if l.startswith('MemTotal')), '?')
    return (f'{os.cpu_count()} CPUs ({model}), {mem} RAM, Linux {platform.release()}; '
            f'transparent hugepages: enabled {read("/sys/kernel/mm/transparent_hugepage/enabled")}'
            f', defrag {read("/sys/kernel/mm/transparent_hugepage/defrag")}')


def versions(sides):
    def of(code):
        out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else '?'
    parts = [f'Python {platform.python_version()}', f'numpy {np.__version__}',
             f'nibabel {nib.__version__}']
    if 'py' in sides:
        parts.append('neurovox (py) ' + of('import neurovox; print(neurovox.__version__)'))
    if 'rust' in sides:
        parts.append(command_output(['rustc', '--version']) or 'rustc ?')
    if 'sitk' in sides:
        parts.append('SimpleITK ' + of('import SimpleITK; print(SimpleITK.Version.VersionString())'))
    if 'igzip' in sides:
        parts.append('indexed_gzip ' + of('import indexed_gzip; print(indexed_gzip.__version__)'))
    if 'rapidgzip' in sides:
        parts.append('rapidgzip ' + of('import rapidgzip; print(rapidgzip.__version__)'))
    head = command_output(['git', 'rev-parse', '--short', 'HEAD'])
    dirty = command_output(['git', 'status', '--porcelain', '--untracked-files=no'])
    parts.append(f'commit {head}' + (' with uncommitted changes' if dirty else ''))
    return ', '.join(parts)


def data_facts(data: Data):
    def mib(name):
        p = data.dir / name
        return f'{p.stat().st_size / 2**20:.1f} MiB' if p.exists() else '—'
    s = data.shapes
    shape = 'x'.join(map(str, s.bold))
    anat = 'x'.join(map(str, s.anat))
    real = sorted((data.dir / 'real').glob('*')) if (data.dir / 'real').exists() else []
    return (f'bold int16 {shape} (.nii {mib("bold.nii")}, nibabel .nii.gz {mib("bold.nii.gz")}, '
            f'SimpleITK .nii.gz {mib("bold_sitk.nii.gz")}, neurovox .nii.gz '
            f'{mib("bold_neurovox.nii.gz")}; scaled: slope {SLOPE}, inter {INTER}, .nii.gz '
            f'{mib("bold_scaled.nii.gz")}); bold float64 (.nii {mib("bold_f64.nii")}, .nii.gz '
            f'{mib("bold_f64.nii.gz")}); anat float32 {anat} (.nii.gz {mib("anat.nii.gz")}); '
            f'labels uint8 {anat} (.nii.gz {mib("labels.nii.gz")}); {s.n_small} small runs '
            f'{"x".join(map(str, s.small))}; real: ' + (', '.join(p.name for p in real) or '—'))


def add_data_arguments(parser):
    """The options every benchmark over the matrix's data takes: --quick, --repeats, --dir."""
    parser.add_argument('--quick', action='store_true', help='small shapes, for a smoke test')
    parser.add_argument('--repeats', type=int, default=3, help='best of N (default 3)')
    parser.add_argument('--dir', type=Path, help='where to write and reuse the data')


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(parser)
    parser.add_argument('--only', nargs='+', metavar='PATTERN',
                        help='run only the rows whose label contains one of these substrings')
    parser.add_argument('--sides', default=','.join(SIDES),
                        help=f'comma-separated, from {",".join(SIDES)} (nibabel is always run)')
    parser.add_argument('--markdown', type=Path, help='also write the table as Markdown here')
    parser.add_argument('--list', action='store_true', help='print the row labels and exit')
    args = parser.parse_args()

    shapes = Shapes.of(args.quick)
    rows = build_rows(shapes)
    if args.only:
        rows = [r for r in rows if any(p in r.label for p in args.only)]
    if args.list:
        print('\n'.join(r.label for r in rows))
        return 0
    if not rows:
        sys.exit(f'no row matches {args.only}')

    wanted = [s.strip() for s in args.sides.split(',') if s.strip()]
    unknown = set(wanted) - set(SIDES)
    if unknown:
        sys.exit(f'unknown sides {sorted(unknown)}; choose from {",".join(SIDES)}')
    notes = []
    if 'nibabel' not in wanted:
        notes.append('nibabel is always run: every ratio is taken against it')
    sides = ['nibabel']
    ensures = {'py': ensure_py, 'rust': ensure_rust, 'sitk': ensure_sitk, 'igzip': ensure_igzip,
               'rapidgzip': ensure_rapidgzip, 'limit': ensure_rust}
    anchors = any(r.anchor for r in rows)
    for side in SIDES[1:]:
        if side in wanted and (anchors or side not in ANCHOR_SIDES):
            ok, why = ensures[side]()
            if ok:
                sides.append(side)
            else:
                notes.append(f'no {side} side: {why}')
                say(f'note: no {side} side: {why}')
    load_start = os.getloadavg()
    started = datetime.datetime.now()

    with tempfile.TemporaryDirectory(prefix='nvbench-') as tmp:
        root = args.dir or Path(tmp)
        data = Data(root, shapes, args.quick, set(sides), notes)
        say(f'data in {data.dir}')
        results = []
        for i, row in enumerate(rows, 1):
            say(f'[{i}/{len(rows)}] {row.label}')
            reports = run_row(row, data, sides, args.repeats)
            if reports is None:
                say('    skipped: its data is not available')
                continue
            results.append((row, reports))
        facts = data_facts(data)

    elapsed = datetime.datetime.now() - started
    load_end = os.getloadavg()
    failed = [(row.label, s) for row, reports in results for s, r in reports.items() if 'error' in r]
    differs = [(row.label, s) for row, reports in results for s, r in reports.items()
               if r.get('differs')]
    header = [
        f'neurovox benchmark matrix, {started:%Y-%m-%d %H:%M}, {elapsed.seconds // 60} min'
        f'{" (--quick)" if args.quick else ""}: best of {args.repeats}, each operation on each '
        'side in its own process; seconds are the timed operation, MiB the process\'s peak RSS '
        '(VmHWM). Ratios are nibabel/side (>1 favours the side); goal per row for the neurovox '
        'sides: time ratio >= the goal column, memory ratio >= 1.0; `!` marks a miss.',
        f'- machine: {machine_facts()}; load average {load_start[0]:.2f} at the start, '
        f'{load_end[0]:.2f} at the end',
        f'- versions: {versions(sides)}',
        f'- sides: ' + ', '.join(f'{s} = {SIDE_NAMES[s]}' for s in sides),
        f'- data: {facts}',
        '- saves: neurovox writes a temporary file, syncs it to disk and renames it over the '
        'target (atomic and durable); nibabel and SimpleITK write the target in place, unsynced. '
        'Each output is read back with nibabel after the side has finished.',
    ] + [f'- note: {n}' for n in notes]
    text = '\n'.join(header) + '\n\n' + table(results, sides) + '\n'
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    status = 0
    for label, side in failed:
        print(f'FAILED: {label}: {SIDE_NAMES[side]}', file=sys.stderr)
        status = 1
    for label, side in differs:
        print(f'RESULTS DIFFER FROM NIBABEL: {label}: {SIDE_NAMES[side]}', file=sys.stderr)
        status = 1
    return status


if __name__ == '__main__':
    sys.exit(main())
