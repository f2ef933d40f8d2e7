"""Seeds, mutations, child-process workers and the campaign driver of ``test_mutation.py``.

Kept out of the test module so that this file can also run as the child process itself
(``python mutation_helpers.py worker MODE TASKS OUT``) and as a long campaign outside the
suite (``python mutation_helpers.py campaign --count 20000 --report report.json``).

The parent never imports neurovox or loads a mutant: every read happens in a child that first
limits its own address space to ``LIMIT`` bytes (``RLIMIT_AS``, inherited by the CLI
processes it starts), so a reservation sized by a hostile header fails inside the child.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

LIMIT = 4 << 30
HERE = Path(__file__).resolve()
ROOT = Path(os.environ.get('NEUROVOX_ROOT', HERE.parents[2]))  # a copy run from elsewhere

# ---------------------------------------------------------------------------------------------
# Seeds: small images of every format and variant, written at test time.
# ---------------------------------------------------------------------------------------------

# How often a seed of over 1 MiB is drawn, against 1 for each small one.
BIG_WEIGHT = float(os.environ.get('NEUROVOX_MUTATION_BIG_WEIGHT', '0.2'))
SHAPE3 = (5, 4, 3)
SHAPE4 = (4, 3, 3, 2)


class Seed:
    """One seed image: its files' bytes (keyed by suffix) and what the mutators need to know.

    ``layout`` is the header layout of the first file (``nifti1``, ``nifti2``, ``analyze`` for
    Analyze and SPM pairs, ``mgh``); ``main`` is the suffix that is loaded; ``gz`` says the
    main file is gzip (``nvgz``: neurovox's indexed gzip); a ``.nvgzidx`` sidecar, where there
    is one, is among ``files``; ``big`` seeds hold over 1 MiB inside."""

    def __init__(self, name, layout, main, files, endian='<', gz=False, nvgz=False,
                 ext=False, data_bytes=0):
        self.name, self.layout, self.main, self.files = name, layout, main, files
        self.endian, self.gz, self.nvgz, self.ext = endian, gz, nvgz, ext
        self.data_bytes = data_bytes
        self.big = False  # over 1 MiB inside: several members, checkpoints with windows

    @property
    def weight(self):
        return BIG_WEIGHT if self.big else 1.0

    @property
    def hsize(self):
        return {'nifti1': 348, 'nifti2': 540, 'analyze': 348, 'mgh': 90}[self.layout]

    @property
    def single(self):
        return self.main in ('.nii', '.nii.gz', '.mgh', '.mgz')


def _data(dtype, shape, scaled, rng):
    import numpy as np
    n = int(np.prod(shape))
    if scaled:  # float values that nibabel stores with a slope (and intercept)
        return np.abs(rng.normal(40.0, 25.0, n).reshape(shape)).astype(np.float64)
    dtype = np.dtype(dtype)
    if dtype.kind == 'f':
        values = rng.normal(0.0, 1e3, n).astype(dtype)
        values[::7] = np.nan
        values[3] = np.inf
        return values.reshape(shape)
    info = np.iinfo(dtype)
    values = rng.integers(info.min, int(info.max) + 1, n, dtype=dtype)
    return values.reshape(shape)


def make_seeds(workdir):
    """Writes every seed with nibabel into ``workdir`` (three ``.gz`` seeds rewritten by
    ``neurovox recompress`` as its indexed gzip, one given a ``neurovox index`` sidecar) and
    returns the list of :class:`Seed`."""
    import nibabel as nib
    import numpy as np
    from nibabel.nifti1 import Nifti1Extension

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1414)
    affine = np.array([[-2.0, 0.1, 0, 90], [0.05, 2.5, 0, -126], [0, 0, 3.0, -72], [0, 0, 0, 1]])
    seeds = []

    def add(name, layout, suffixes, img, endian='<', gz=False, ext=False):
        stem = workdir / name
        main = suffixes[0]
        nib.save(img, str(stem) + main)
        files = {}
        for s in suffixes:
            p = Path(str(stem) + s)
            if p.exists():
                files[s] = p.read_bytes()
        nbytes = int(np.prod(img.shape)) * img.get_data_dtype().itemsize
        seeds.append(Seed(name, layout, main, files, endian, gz, False, ext, nbytes))
        seeds[-1].path = str(stem) + main

    variants = [  # dtype, shape, scaled, extension, big-endian
        (np.int16, SHAPE3, False, False, False),
        (np.uint8, SHAPE4, True, False, False),
        (np.int16, SHAPE3, True, True, False),
        (np.float32, SHAPE3, False, False, False),
        (np.float64, SHAPE4, False, True, False),
        (np.int16, SHAPE4, False, True, True),
        (np.float32, SHAPE4, False, False, True),
    ]
    for k, (dtype, shape, scaled, ext, big) in enumerate(variants):
        for cls, layout, tag in ((nib.Nifti1Image, 'nifti1', 'n1'),
                                 (nib.Nifti2Image, 'nifti2', 'n2')):
            if layout == 'nifti2' and k % 2:
                continue
            header = cls.header_class(endianness='>' if big else '<')
            img = cls(_data(dtype, shape, scaled, rng), affine, header)
            img.set_data_dtype(dtype)
            if ext:
                img.header.extensions.append(Nifti1Extension(6, b'mutation seed comment'))
                img.header.extensions.append(Nifti1Extension(4, b'\x01\x02\x03' * 9))
            name = f'{tag}-{np.dtype(dtype).name}-{len(shape)}d{"-s" if scaled else ""}' \
                   f'{"-x" if ext else ""}{"-be" if big else ""}'
            for main in ('.nii', '.nii.gz'):
                if layout == 'nifti2' and main == '.nii.gz' and k:
                    continue
                add(name, layout, [main], img, '>' if big else '<', main.endswith('.gz'), ext)
    # A float32 image whose header slope and intercept were set by hand.
    for cls, layout in ((nib.Nifti1Image, 'nifti1'), (nib.Nifti2Image, 'nifti2')):
        img = cls(_data(np.float32, SHAPE3, False, rng), affine)
        add(f'{layout}-f32-handscaled', layout, ['.nii'], img)
        path = workdir / f'{layout}-f32-handscaled.nii'
        raw = bytearray(seeds[-1].files['.nii'])
        hdr = np.frombuffer(raw[:seeds[-1].hsize], _header_dtype(layout, '<')).copy()
        hdr['scl_slope'], hdr['scl_inter'] = 2.5, -1.25
        raw[:seeds[-1].hsize] = hdr.tobytes()
        seeds[-1].files['.nii'] = bytes(raw)
        path.write_bytes(raw)
    # NIfTI-1 pairs, Analyze, SPM2 (with its .mat) and SPM99.
    pairs = [
        ('pair-int16-3d-s-x', nib.Nifti1Pair, np.int16, SHAPE3, True, True, False),
        ('pair-float32-4d', nib.Nifti1Pair, np.float32, SHAPE4, False, False, False),
        ('analyze-int16-3d', nib.AnalyzeImage, np.int16, SHAPE3, False, False, False),
        ('analyze-uint8-4d', nib.AnalyzeImage, np.uint8, SHAPE4, False, False, False),
        ('analyze-float64-3d-be', nib.AnalyzeImage, np.float64, SHAPE3, False, False, True),
        ('spm2-int16-3d-s', nib.Spm2AnalyzeImage, np.int16, SHAPE3, True, False, False),
        ('spm2-float32-4d', nib.Spm2AnalyzeImage, np.float32, SHAPE4, False, False, False),
        ('spm99-uint8-3d-s-be', nib.Spm99AnalyzeImage, np.uint8, SHAPE3, True, False, True),
    ]
    for name, cls, dtype, shape, scaled, ext, big in pairs:
        header = cls.header_class(endianness='>' if big else '<')
        img = cls(_data(dtype, shape, scaled, rng), affine, header)
        img.set_data_dtype(dtype)
        if ext:
            img.header.extensions.append(Nifti1Extension(6, b'pair comment'))
        layout = 'nifti1' if cls is nib.Nifti1Pair else 'analyze'
        add(name, layout, ['.hdr', '.img', '.mat'], img, '>' if big else '<', False, ext)
    # MGH and MGZ.
    for dtype, shape in ((np.uint8, SHAPE3), (np.int16, SHAPE4), (np.float32, SHAPE3),
                         (np.int32, SHAPE4)):
        img = nib.MGHImage(_data(dtype, shape, False, rng), affine)
        for main in ('.mgh', '.mgz'):
            add(f'mgh-{np.dtype(dtype).name}-{len(shape)}d', 'mgh', [main], img, '>',
                main == '.mgz')
    # neurovox's own indexed gzip (index members at the end of the file), by `neurovox
    # recompress`, and a nibabel .nii.gz with the .nvgzidx sidecar `neurovox index` writes.
    exe = cli_path()
    if exe is not None:
        for name, layout, main, cls, dtype, shape, endian in (
                ('nv-n1-int16-4d', 'nifti1', '.nii.gz', nib.Nifti1Image, np.int16, SHAPE4, '<'),
                ('nv-n2-f64-3d', 'nifti2', '.nii.gz', nib.Nifti2Image, np.float64, SHAPE3, '<'),
                ('nv-mgh-f32-4d', 'mgh', '.mgz', nib.MGHImage, np.float32, SHAPE4, '>')):
            add(name, layout, [main], cls(_data(dtype, shape, False, rng), affine), endian,
                gz=True)
            path = workdir / (name + main)
            subprocess.run([str(exe), 'recompress', str(path)], check=True, capture_output=True)
            seeds[-1].files[main] = path.read_bytes()
            seeds[-1].nvgz = True
        for name, big in (('sidecar-n1-int16-4d', False), ('big-sidecar-n1-int16-4d', True)):
            data = _big(rng) if big else _data(np.int16, SHAPE4, False, rng)
            add(name, 'nifti1', ['.nii.gz'], nib.Nifti1Image(data, affine), gz=True)
            path = workdir / f'{name}.nii.gz'
            subprocess.run([str(exe), 'index', str(path)], check=True, capture_output=True)
            seeds[-1].files['.nii.gz.nvgzidx'] = Path(str(path) + '.nvgzidx').read_bytes()
            seeds[-1].big = big
        # Two more of over 1 MiB inside: nibabel's one gzip member (checkpoints every MiB on
        # a first pass) and neurovox's 1 MiB members with their member index.
        for name, nvgz in (('big-n1-int16-4d', False), ('big-nv-n1-int16-4d', True)):
            add(name, 'nifti1', ['.nii.gz'], nib.Nifti1Image(_big(rng), affine), gz=True)
            path = workdir / f'{name}.nii.gz'
            if nvgz:
                subprocess.run([str(exe), 'recompress', str(path)], check=True,
                               capture_output=True)
                seeds[-1].files['.nii.gz'] = path.read_bytes()
            seeds[-1].nvgz, seeds[-1].big = nvgz, True
    return seeds


def _big(rng):
    """2 MiB of int16 that gzip to about a quarter of a MiB."""
    import numpy as np
    data = np.zeros((64, 64, 16, 16), np.int16)
    data[8:56, 8:56, 2:14] = rng.integers(480, 520, (48, 48, 12, 16), dtype=np.int16)
    return data


def cli_path():
    for profile in ('release', 'debug'):
        exe = ROOT / 'target' / profile / 'neurovox'
        if exe.exists():
            return exe
    return None


def _header_dtype(layout, endian):
    import nibabel as nib
    dt = {'nifti1': nib.nifti1.header_dtype, 'nifti2': nib.nifti2.header_dtype,
          'analyze': nib.spm2analyze.Spm2AnalyzeHeader.template_dtype,
          'mgh': nib.freesurfer.mghformat.hf_dtype}[layout]
    return dt.newbyteorder(endian) if layout != 'mgh' else dt


# ---------------------------------------------------------------------------------------------
# Mutations, deterministic from one random.Random.
# ---------------------------------------------------------------------------------------------

BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe, 0x10, 0x20]
INTS = [0, 1, -1, 2, 3, 4, 7, 8, 9, 15, 16, 127, 128, 255, 256, 348, 352, 540, 544, 32766,
        32767, -32768, -32767, 65535, 65536, 2**24, 2**31 - 1, -2**31, 2**31 - 2, 2**32 - 1,
        2**32, 2**40, 2**53, 2**62, 2**63 - 1, -2**63]
FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-38, 1.4e-45, 3.4028235e38, -3.4028235e38, 1e20,
          -1e20, float('inf'), float('-inf'), float('nan'), 2.0**31, 2.0**63, 1e300, 352.5,
          1e-300]
MAGICS = [b'n+1\0', b'ni1\0', b'n+2\0\r\n\x1a\n', b'ni2\0\r\n\x1a\n', b'\0\0\0\0', b'n+1 ',
          b'N+1\0', b'n+2\0', b'\xff\xff\xff\xff']
MAIN_FIELDS = {
    'nifti1': ['dim', 'dim', 'dim0', 'dim0', 'pixdim', 'vox_offset', 'vox_offset', 'datatype',
               'datatype', 'bitpix', 'scl_slope', 'scl_inter', 'sizeof_hdr', 'magic', 'magic',
               'retype', 'reshape', 'reshape'],
    'analyze': ['dim', 'dim', 'dim0', 'dim0', 'pixdim', 'vox_offset', 'vox_offset', 'datatype',
                'datatype', 'bitpix', 'scl_slope', 'scl_inter', 'sizeof_hdr', 'retype',
                'reshape', 'reshape'],
    'mgh': ['version', 'dims', 'dims', 'dims', 'type', 'type', 'dof', 'goodRASFlag', 'delta',
            'Mdc', 'Pxyz_c', 'retype', 'reshape', 'reshape'],
}
MAIN_FIELDS['nifti2'] = MAIN_FIELDS['nifti1']
MINOR_FIELDS = {
    'nifti1': ['intent_code', 'slice_start', 'slice_end', 'slice_code', 'slice_duration',
               'qform_code', 'sform_code', 'quatern_b', 'quatern_d', 'qoffset_x', 'srow_x',
               'xyzt_units', 'dim_info', 'cal_max', 'toffset', 'intent_p1', 'descrip'],
    'analyze': ['glmax', 'glmin', 'origin', 'extents', 'regular', 'funused3', 'cal_max',
                'descrip', 'orient'],
    'mgh': [],
}
MINOR_FIELDS['nifti2'] = MINOR_FIELDS['nifti1']
NIFTI_CODES = {2: 8, 4: 16, 8: 32, 16: 32, 32: 64, 64: 64, 128: 24, 256: 8, 512: 16, 768: 32,
               1024: 64, 1280: 64, 1536: 128, 1792: 128, 2048: 256, 2304: 32}
MGH_CODES = {0: 1, 1: 4, 3: 4, 4: 2, 10: 2}


def _pos(rnd, n, hot):
    """A byte position in [0, n): mostly in the first ``hot`` bytes, sometimes near the end."""
    if n <= 0:
        return 0
    r = rnd.random()
    if r < 0.7:
        return rnd.randrange(min(hot, n))
    if r < 0.82:
        return rnd.randrange(max(0, n - 64), n)
    return rnd.randrange(n)


def _int_in(rnd, dtype, extra=()):
    import numpy as np
    info = np.iinfo(dtype)
    pool = [v for v in list(INTS) + list(extra) if info.min <= v <= info.max]
    if rnd.random() < 0.3:
        return rnd.randrange(0, 12)
    return rnd.choice(pool)


def _float_in(rnd, extra=()):
    return rnd.choice(FLOATS + list(extra))


def m_bitflip(buf, rnd, hot):
    for _ in range(rnd.choice([1, 1, 1, 2, 3, 8])):
        if buf:
            p = _pos(rnd, len(buf), hot)
            b = rnd.randrange(8)
            buf[p] ^= 1 << b
    return f'bitflip@{p}.{b}' if buf else 'bitflip(empty)'


def m_byte(buf, rnd, hot):
    if not buf:
        return 'byte(empty)'
    p, v = _pos(rnd, len(buf), hot), rnd.choice(BYTES)
    buf[p] = v
    return f'byte@{p}={v:#x}'


def m_int(buf, rnd, hot, endian):
    width = rnd.choice([2, 4, 4, 8])
    if len(buf) < width:
        return 'int(short)'
    p = _pos(rnd, len(buf) - width + 1, hot)
    if rnd.random() < 0.7:
        p -= p % width
    v = rnd.choice(INTS) & ((1 << (8 * width)) - 1)
    buf[p:p + width] = v.to_bytes(width, 'little' if endian == '<' else 'big')
    return f'int{width * 8}@{p}={v:#x}'


def m_truncate(buf, rnd, hot):
    p = _pos(rnd, len(buf), hot + 64)
    del buf[p:]
    return f'truncate@{p}'


def m_append(buf, rnd):
    kind = rnd.choice(['random', 'zeros', 'ff', 'gzmember', 'emptygz', 'self'])
    n = rnd.choice([1, 3, 8, 16, 64, 300])
    if kind == 'random':
        tail = bytes(rnd.randrange(256) for _ in range(n))
    elif kind == 'zeros':
        tail = bytes(n)
    elif kind == 'ff':
        tail = b'\xff' * n
    elif kind == 'gzmember':
        tail = gzip.compress(bytes(rnd.randrange(256) for _ in range(n)), mtime=0)
    elif kind == 'emptygz':
        tail = gzip.compress(b'', mtime=0)
    else:
        tail = bytes(buf[:n * 4])
    buf += tail
    return f'append {kind} {len(tail)}'


def m_insert_delete(buf, rnd, hot):
    p = _pos(rnd, len(buf), hot)
    n = rnd.choice([1, 2, 4, 16])
    if rnd.random() < 0.5:
        buf[p:p] = bytes(rnd.randrange(256) for _ in range(n))
        return f'insert@{p}+{n}'
    del buf[p:p + n]
    return f'delete@{p}-{n}'


def m_field(buf, rnd, seed):
    """Sets one header field, through nibabel's header dtype, to an extreme value."""
    import numpy as np
    layout = seed.layout
    dt = _header_dtype(layout, seed.endian)
    if len(buf) < dt.itemsize:
        return m_bitflip(buf, rnd, seed.hsize)
    hdr = np.frombuffer(bytes(buf[:dt.itemsize]), dt).copy()
    fields = MAIN_FIELDS[layout] if rnd.random() < 0.85 or not MINOR_FIELDS[layout] \
        else MINOR_FIELDS[layout]
    field = rnd.choice(fields)
    with np.errstate(all='ignore'):
        desc = _set_field(hdr, field, rnd, seed, len(buf))
    buf[:dt.itemsize] = hdr.tobytes()
    return desc


def _set_field(hdr, field, rnd, seed, length):
    import numpy as np
    layout = seed.layout
    dims = 'dims' if layout == 'mgh' else 'dim'
    if field == 'dim0':
        v = rnd.choice([-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 255, 32767, -32768, 2**31 - 1])
        v = int(np.array(v).astype(hdr['dim'].dtype))
        hdr['dim'][0, 0] = v
        return f'dim[0]={v}'
    if field == 'reshape':  # a shape that still fits the data: both libraries should read it
        old = [int(x) for x in hdr[dims][0]]
        if layout == 'mgh':
            shape = old[:]
            rnd.shuffle(shape)
            if rnd.random() < 0.3:
                shape = [int(np.prod(old, dtype=np.int64)), 1, 1, 1]
            info = np.iinfo(hdr['dims'].dtype)
            shape = [min(max(s, info.min), info.max) for s in shape]
            hdr['dims'][0] = shape
            return f'reshape dims={shape}'
        n = max(1, min(7, old[0]))
        shape = old[1:n + 1]
        r = rnd.random()
        if r < 0.3:
            rnd.shuffle(shape)
        elif r < 0.5:
            shape = [int(np.prod(shape, dtype=np.int64))]
        elif r < 0.7:
            shape = shape + [1] * rnd.randrange(1, 3)
        else:
            shape = [max(1, s - rnd.randrange(2)) for s in shape]
        info = np.iinfo(hdr['dim'].dtype)
        shape = [min(max(s, info.min), info.max) for s in shape[:7]]
        hdr['dim'][0, :] = [len(shape)] + shape + [1] * (7 - len(shape))
        return f'reshape dim={[len(shape)] + shape}'
    if field == 'retype':  # another valid type code; bitpix kept consistent sometimes
        codes = MGH_CODES if layout == 'mgh' else NIFTI_CODES
        code = rnd.choice(list(codes))
        if layout == 'mgh':
            hdr['type'] = code
            return f'retype type={code}'
        hdr['datatype'] = code
        if rnd.random() < 0.7:
            hdr['bitpix'] = codes[code]
        return f'retype datatype={code} bitpix={int(hdr["bitpix"][0])}'
    if field in ('dim', 'dims'):
        k = rnd.randrange(1, 8 if layout != 'mgh' else 4) if layout != 'mgh' else rnd.randrange(4)
        v = _int_in(rnd, hdr[field].dtype, [length, length // 2])
        hdr[field][0, k] = v
        return f'{field}[{k}]={v}'
    if field == 'vox_offset':
        orig = float(hdr['vox_offset'][0])
        h = seed.hsize
        pool = [0, 1, h - 1, h, h + 1, h + 4, h + 16, orig - 16, orig - 1, orig + 1, orig + 16,
                orig + 8, length, length + 1, 1e9, 2**31, -1, -352, 2**40, 2**63 - 1]
        if hdr['vox_offset'].dtype.kind == 'f':
            pool += [float('nan'), float('inf'), 352.5, 1e30]
        v = rnd.choice(pool)
        if hdr['vox_offset'].dtype.kind == 'i':
            v = int(v)
        hdr['vox_offset'] = v
        return f'vox_offset={v}'
    if field == 'magic':
        v = rnd.choice(MAGICS)
        hdr['magic'] = v
        return f'magic={v!r}'
    if field == 'sizeof_hdr':
        v = rnd.choice([0, 1, 347, 348, 349, 540, 544, 0x5c010000, 0x1c020000, -1, 2**31 - 1])
        hdr['sizeof_hdr'] = v
        return f'sizeof_hdr={v}'
    if field in ('descrip', 'regular', 'orient'):
        v = rnd.choice([b'\xff' * 80, b'', b'r', b'\x00x\x00'])
        hdr[field] = v
        return f'{field}={v[:8]!r}'
    dtype = hdr[field].dtype.base
    shape = hdr[field].shape[1:]
    idx = tuple(rnd.randrange(s) for s in shape)
    if dtype.kind == 'f':
        v = _float_in(rnd)
    else:
        v = _int_in(rnd, dtype)
    hdr[field][(0,) + idx] = v
    return f'{field}{list(idx) if idx else ""}={v}'


def m_extension(buf, rnd, seed):
    """Extension flag and sizes of a NIfTI header (duplicated, shortened, extreme)."""
    import numpy as np
    h = seed.hsize
    if len(buf) < h + 4:
        return m_truncate(buf, rnd, h)
    end = 'little' if seed.endian == '<' else 'big'
    if not seed.ext or len(buf) < h + 12 or rnd.random() < 0.15:
        v = rnd.choice([0, 1, 2, 0xff])
        buf[h] = v
        return f'extflag={v}'
    esize = int.from_bytes(buf[h + 4:h + 8], end, signed=True)
    dt = _header_dtype(seed.layout, seed.endian)
    hdr = np.frombuffer(bytes(buf[:dt.itemsize]), dt).copy()
    vox = int(hdr['vox_offset'][0]) if np.isfinite(hdr['vox_offset'][0]) else 0
    kind = rnd.choice(['esize', 'esize', 'ecode', 'dup', 'dup', 'shorten'])
    if kind == 'esize':
        v = rnd.choice([0, 1, 4, 8, 12, 16, 24, 32, esize - 16, esize - 8, esize + 8,
                        esize + 16, esize * 2, vox - h - 4, vox - h + 12, 2**31 - 1, -8, -16,
                        -2**31, 0x10000000, len(buf)])
        buf[h + 4:h + 8] = (v & 0xffffffff).to_bytes(4, end)
        return f'esize={v}'
    if kind == 'ecode':
        v = rnd.choice([0, 2, 4, 6, 40, 44, -1, 2**31 - 1])
        buf[h + 8:h + 12] = (v & 0xffffffff).to_bytes(4, end)
        return f'ecode={v}'
    if kind == 'shorten':
        v = max(esize - rnd.choice([8, 16]), 0)
        buf[h + 4:h + 8] = v.to_bytes(4, end)
        return f'shorten esize={v}'
    if esize <= 0 or h + 4 + esize > len(buf):
        return m_bitflip(buf, rnd, h + 16)
    block = bytes(buf[h + 4:h + 4 + esize])
    buf[h + 4 + esize:h + 4 + esize] = block
    if rnd.random() < 0.5 and seed.single:
        hdr['vox_offset'] = vox + esize
        buf[:dt.itemsize] = hdr.tobytes()
        return f'dup ext ({esize}) vox_offset+={esize}'
    return f'dup ext ({esize}) vox_offset kept'


def m_sidecar(files, rnd):
    """Mutates a .nvgzidx sidecar and puts its CRC32 right, so the parser gets past it."""
    key = '.nii.gz.nvgzidx'
    raw = bytearray(files[key])
    p = rnd.randrange(8, max(9, len(raw) - 4))
    r = rnd.random()
    if r < 0.5:
        raw[p] ^= 1 << rnd.randrange(8)
        desc = f'sidecar bitflip@{p}'
    elif r < 0.8:
        width = 8 if p + 8 <= len(raw) - 4 else 1
        v = rnd.choice(INTS) & ((1 << (8 * width)) - 1)
        raw[p:p + width] = v.to_bytes(width, 'little')
        desc = f'sidecar int@{p}={v:#x}'
    else:
        del raw[p:len(raw) - 4]
        desc = f'sidecar cut@{p}'
    if rnd.random() < 0.85:
        raw[-4:] = struct.pack('<I', zlib.crc32(bytes(raw[:-4])))
        desc += ' crc fixed'
    files[key] = bytes(raw)
    return desc


def mutate(seed, rnd):
    """Returns (files, description): the seed's files after one to three mutations."""
    files = dict(seed.files)
    descs = []
    for _ in range(rnd.choice([1, 1, 1, 1, 1, 1, 2, 2, 3])):
        target = seed.main
        if not seed.single:
            r = rnd.random()
            target = '.hdr' if r < 0.75 else '.img' if r < 0.9 or '.mat' not in files else '.mat'
            if r > 0.985:
                gone = '.img' if '.mat' not in files or r > 0.993 else '.mat'
                files.pop(gone, None)
                descs.append(f'remove {gone}')
                continue
        if target not in files:
            continue
        if '.nii.gz.nvgzidx' in files and rnd.random() < 0.4:
            descs.append(m_sidecar(files, rnd))
            continue
        raw = files[target]
        logical = not seed.gz or rnd.random() < 0.65
        if seed.gz and logical:
            try:
                buf = bytearray(gzip.decompress(raw))
            except Exception:  # an earlier raw mutation broke it: keep mutating the raw bytes
                logical, buf = False, bytearray(raw)
        else:
            buf = bytearray(raw)
        hot = seed.hsize if target in ('.hdr', '.nii', '.nii.gz', '.mgh', '.mgz') else 64
        if seed.layout == 'mgh' and target in ('.mgh', '.mgz') and rnd.random() < 0.15:
            hot = 284  # up to the data offset; the footer is near the end (covered by _pos)
        if seed.gz and not logical:
            hot = 32 if not seed.nvgz else 26
            if seed.big and rnd.random() < 0.6:
                hot = len(buf)  # anywhere in the compressed stream, past the fingerprint
            r = rnd.random()
            if seed.nvgz and r < 0.35:  # the index members at the end of the file
                p = len(buf) - rnd.randrange(1, min(len(buf), 120))
                op = rnd.choice(['flip', 'int'])
                if op == 'flip':
                    buf[p] ^= 1 << rnd.randrange(8)
                    d = f'nvindex bitflip@-{len(buf) - p}'
                else:
                    width = rnd.choice([2, 4, 8])
                    p = min(p, len(buf) - width)
                    v = rnd.choice(INTS) & ((1 << (8 * width)) - 1)
                    buf[p:p + width] = v.to_bytes(width, 'little')
                    d = f'nvindex int{8 * width}@-{len(buf) - p}={v:#x}'
            else:
                op = rnd.choice(['flip', 'flip', 'byte', 'int', 'truncate', 'append', 'plain'])
                if op == 'plain':  # the name says .gz, the content is not compressed
                    try:
                        buf = bytearray(gzip.decompress(raw))
                        d = 'decompressed, name kept'
                    except Exception:
                        d = m_bitflip(buf, rnd, hot)
                else:
                    d = _generic(op, buf, rnd, hot, '<')
            descs.append(f'raw {d}')
            files[target] = bytes(buf)
            continue
        nifti = seed.layout in ('nifti1', 'nifti2') and target != '.img' and target != '.mat'
        header = target not in ('.img', '.mat')
        choices = ['flip', 'flip', 'byte', 'int', 'truncate', 'append', 'indel']
        if header:
            choices += ['field'] * 6
        if nifti:
            choices += ['ext', 'ext']
        if not seed.gz and not seed.nvgz and header and seed.single:
            choices += ['gzname']
        op = rnd.choice(choices)
        if op == 'field':
            d = m_field(buf, rnd, seed)
        elif op == 'ext':
            d = m_extension(buf, rnd, seed)
        elif op == 'gzname':
            d = 'compressed, name kept'
        else:
            d = _generic(op, buf, rnd, hot, seed.endian if header else '<')
        out = bytes(buf)
        if seed.gz or op == 'gzname':
            out = gzip.compress(out, compresslevel=1 if seed.big else rnd.choice([1, 6, 9]),
                                mtime=0)
            if seed.gz:
                d = f'inner {d}, recompressed'
        files[target] = out
        descs.append(f'{target} {d}' if not seed.single else d)
    return files, '; '.join(descs) or 'none'


def _generic(op, buf, rnd, hot, endian):
    if op == 'flip':
        return m_bitflip(buf, rnd, hot)
    if op == 'byte':
        return m_byte(buf, rnd, hot)
    if op == 'int':
        return m_int(buf, rnd, hot, endian)
    if op == 'truncate':
        return m_truncate(buf, rnd, hot)
    if op == 'append':
        return m_append(buf, rnd)
    return m_insert_delete(buf, rnd, hot)


def write_mutants(seeds, outdir, count, seed=14, start=0):
    """Writes ``count`` mutants into ``outdir`` (``m000000.nii`` ...): a list of task dicts."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(seed)
    tasks = []
    for i in range(start, start + count):
        s = seeds[i % len(seeds)] if i < len(seeds) else \
            rnd.choices(seeds, [x.weight for x in seeds])[0]
        files, desc = mutate(s, rnd)
        stem = f'm{i:06d}'
        for suffix, data in files.items():
            (outdir / (stem + suffix)).write_bytes(data)
        # Only the compressed bytes (or the sidecar) changed: what a full read returns, if
        # anything, is the seed's values.
        ops = desc.split('; ')
        raw_only = s.gz and all(d.startswith(('raw ', 'sidecar ')) for d in ops) and all(
            'decompressed' not in d for d in ops[:-1])  # later raw ops would hit plain bytes
        tasks.append({'i': i, 'path': str(outdir / (stem + s.main)), 'stem': stem,
                      'seed': s.name, 'mutation': desc,
                      'seed_path': s.path if raw_only else None})
    return tasks


# ---------------------------------------------------------------------------------------------
# The child process.
# ---------------------------------------------------------------------------------------------

def slice_key(shape, variant):
    """A key that is in range for ``shape`` (so only the file can make the read fail)."""
    shape = tuple(shape)
    if not shape:
        return (Ellipsis,)
    if variant == 0:
        return (Ellipsis, shape[-1] // 2)
    if variant == 1:
        return (slice(None, None, -2),) + ((slice(1, None),) if len(shape) > 1 else ())
    return (max(shape[0] - 1, 0), Ellipsis) + ((slice(None, None, 2),) if len(shape) > 1 else ())


def _error(e):
    msg = str(e)
    return {'ok': False, 'type': type(e).__name__, 'exception': isinstance(e, Exception),
            'msg': msg[:400]}


def _digest(a):
    import numpy as np
    a = np.ascontiguousarray(a)
    return {'shape': list(a.shape), 'dtype': str(a.dtype),
            'sha1': hashlib.sha1(a.view(np.uint8).reshape(-1)[:1 << 26]).hexdigest()[:16]}


# Seeds and mutants hold a few KB, so a header claiming more than this cannot be read by
# nibabel either; it is not asked to, because building the segment list of a slice through
# such a claim takes nibabel's fileslice tens of seconds.
NIBABEL_CLAIM = 64 << 20


def _content_name(path):
    """For a file whose name and content disagree about gzip (nibabel goes by the name,
    neurovox by the content): a copy named after its content, else None."""
    with open(path, 'rb') as f:
        gz = f.read(2) == b'\x1f\x8b'
    swaps = {'.nii.gz': '.nii', '.nii': '.nii.gz', '.mgz': '.mgh', '.mgh': '.mgz'}
    for old, new in swaps.items():
        if path.endswith(old) and gz != old.endswith('z'):
            alt = path[:-len(old)] + '-content' + new
            Path(alt).write_bytes(Path(path).read_bytes())
            return alt
    return None


# A check of the harness itself: NEUROVOX_MUTATION_FAULT=abort:STEM (or hang:STEM) makes the
# worker abort (or stop) where neurovox would load that file.
FAULT = tuple(os.environ.get('NEUROVOX_MUTATION_FAULT', '').split(':', 1)) \
    if ':' in os.environ.get('NEUROVOX_MUTATION_FAULT', '') else None


def _fault(kind):
    if kind == 'abort':
        os.abort()
    time.sleep(3600)


def probe(lib, path, variant):
    """load, get_fdata and one dataobj slice: (records, arrays)."""
    import numpy as np
    rec, arrays = {}, {}
    t0 = time.perf_counter()
    renamed = False
    if FAULT and lib.__name__ == 'neurovox' and FAULT[1] in path:
        _fault(FAULT[0])
    try:
        try:
            img = lib.load(path)
        except Exception:
            alt = _content_name(path) if lib.__name__ == 'nibabel' else None
            if alt is None:
                raise
            img, renamed = lib.load(alt), True
        shape = tuple(int(n) for n in img.shape)
        rec['load'] = {'ok': True, 'cls': type(img).__name__, 'shape': list(shape),
                       'dtype': str(img.get_data_dtype()), 'renamed': renamed,
                       'offset': int(img.dataobj.offset)}
        arrays['affine'] = np.asarray(img.affine, dtype=np.float64)
    except BaseException as e:  # noqa: BLE001 - what is raised is the measurement
        rec['load'] = _error(e)
        rec['t'] = time.perf_counter() - t0
        if not isinstance(e, Exception):
            rec['fatal'] = True
        return rec, arrays
    claimed = float(np.prod([float(n) for n in shape])) * img.get_data_dtype().itemsize
    for op, fn in (('fdata', lambda: img.get_fdata()),
                   ('slice', lambda: np.asarray(img.dataobj[slice_key(shape, variant)]))):
        if lib.__name__ == 'nibabel' and claimed > NIBABEL_CLAIM:
            rec[op] = {'ok': False, 'type': 'Skipped', 'exception': True,
                       'msg': f'not read: the header claims {claimed:.3g} bytes'}
            continue
        try:
            a = fn()
            arrays[op] = a
            rec[op] = dict(ok=True, **_digest(a))
        except BaseException as e:  # noqa: BLE001
            rec[op] = _error(e)
    rec['t'] = time.perf_counter() - t0
    del img
    return rec, arrays


def compare(a, b):
    """'equal', 'close' (float scaling rounding), or 'differ: ...'."""
    import numpy as np
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return f'differ: shape {a.shape} != {b.shape}'
    if a.dtype != b.dtype:
        return f'differ: dtype {a.dtype} != {b.dtype}'
    nan = a.dtype.kind in 'fc'
    if np.array_equal(a, b, equal_nan=nan):
        return 'equal'
    if nan and np.allclose(a, b, rtol=1e-6, atol=0, equal_nan=True):
        return 'close'
    with np.errstate(all='ignore'):
        bad = np.flatnonzero(~((a == b) | (np.isnan(a) & np.isnan(b)) if nan else a != b))
    k = int(bad[0]) if bad.size else 0
    return (f'differ: {bad.size} of {a.size} values, first at flat {k}: '
            f'{a.reshape(-1)[k]!r} vs {b.reshape(-1)[k]!r}')


def worker(mode, tasks_path, out_path):
    """The child process: ``mode`` is ``both`` (neurovox, then nibabel, then the comparisons),
    ``nv`` or ``nib`` (one library, to tell whose crash or hang it was) or ``cli``. Writes JSON
    lines to ``out_path``: ``ready`` once imported, ``begin`` before each file, a ``partial``
    record after each library and the file's record at its end."""
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))
    import logging
    import warnings
    warnings.simplefilter('ignore')
    logging.disable(logging.CRITICAL)
    import numpy as np
    tasks = json.loads(Path(tasks_path).read_text())
    seed_values = {}
    with open(out_path, 'a', buffering=1) as out:
        libs = []
        if mode in ('both', 'nv'):
            import neurovox
            libs.append(('nv', neurovox))
        if mode in ('both', 'nib', 'cli'):
            import nibabel
            libs.append(('nib', nibabel))
        out.write(json.dumps({'ready': True}) + '\n')
        for t in tasks:
            out.write(json.dumps({'begin': t['i']}) + '\n')
            out.flush()
            if mode == 'cli':
                out.write(json.dumps({'i': t['i'], 'cli': run_cli(t, libs[0][1])}) + '\n')
                continue
            recs, arrays = {}, {}
            for name, lib in libs:  # neurovox first: its record is out before nibabel runs
                recs[name], arrays[name] = probe(lib, t['path'], t['i'] % 3)
                out.write(json.dumps({'partial': t['i'], name: recs[name]}) + '\n')
            cmp = {}
            if len(libs) == 2:
                for op in ('affine', 'fdata', 'slice'):
                    if op in arrays['nib'] and op in arrays['nv']:
                        if op == 'affine':
                            a, b = arrays['nib'][op], arrays['nv'][op]
                            ok = a.shape == b.shape and np.allclose(a, b, rtol=1e-6,
                                                                    atol=1e-6, equal_nan=True)
                            cmp[op] = 'equal' if ok else f'differ: {a.tolist()} vs {b.tolist()}'
                        else:
                            cmp[op] = compare(arrays['nib'][op], arrays['nv'][op])
            if t.get('seed_path') and 'fdata' in arrays.get('nv', {}):
                # The seed oracle: only the gzip stream was damaged, so a full read that
                # succeeds must give the seed's values (issue 13).
                if t['seed_path'] not in seed_values:
                    seed_values[t['seed_path']] = libs[-1][1].load(t['seed_path']).get_fdata()
                cmp['seed'] = compare(seed_values[t['seed_path']], arrays['nv']['fdata'])
                if cmp['seed'] != 'equal':
                    cmp['gzip_tail'] = gzip_tail(t['path'], recs['nv']['load'])
            del arrays
            out.write(json.dumps({'i': t['i'], **recs, 'cmp': cmp}) + '\n')


def gzip_tail(path, load):
    """What follows the damage in a gzip file: ``after_data``, the bytes the stream inflates to
    after the image data (every member inflated, zero padding skipped, CRC32 and ISIZE not
    checked), and ``after_member``, the bytes of the file after the first member whose CRC32
    or ISIZE is wrong (None where it cannot tell; 1 where that member does not inflate but
    something seems to follow it)."""
    import numpy as np
    raw = Path(path).read_bytes()
    total, pos, after_member = 0, 0, None
    try:
        while pos + 10 <= len(raw) and raw[pos:pos + 2] == b'\x1f\x8b':
            flg, p = raw[pos + 3], pos + 10
            if flg & 4:
                p += 2 + int.from_bytes(raw[p:p + 2], 'little')
            for bit in (8, 16):
                if flg & bit:
                    p = raw.index(b'\0', p) + 1
            if flg & 2:
                p += 2
            d = zlib.decompressobj(-15)
            out = d.decompress(raw[p:])
            total += len(out)
            if not d.eof:
                break
            end = len(raw) - len(d.unused_data)
            crc, isize = struct.unpack('<II', raw[end:end + 8].ljust(8, b'\0'))
            if after_member is None and (crc != zlib.crc32(out) or isize != len(out) % 2**32):
                after_member = len(raw) - (end + 8)
            pos = end + 8
            while pos < len(raw) and raw[pos] == 0:
                pos += 1
    except (zlib.error, ValueError):
        if after_member is None:  # a member that does not even inflate: does anything follow?
            follows = raw[-14:-10] == b'NVIX' or raw.find(b'\x1f\x8b\x08', 10) > 0 \
                or raw.endswith(b'\0')  # neurovox's index members, another member, padding
            after_member = 1 if follows else None
        return {'after_data': None, 'after_member': after_member}
    shape = load['shape']
    need = load['offset'] + int(np.prod(shape, dtype=np.int64)) * np.dtype(load['dtype']).itemsize
    return {'after_data': total - need, 'after_member': after_member}


def run_cli(task, nibabel):
    """``neurovox stats FILE`` and ``neurovox slice -o OUT FILE '..., 0'``; the slice is
    checked against nibabel's ``dataobj[..., 0]`` when both succeed (a key that keeps the
    spatial axes spatial on images of any number of axes)."""
    import numpy as np
    exe = str(cli_path())
    out = str(Path(task['path']).parent / (task['stem'] + '-cli-out.nii'))
    rec = {}
    for name, args in (('stats', [exe, 'stats', task['path']]),
                       ('slice', [exe, 'slice', '-o', out, task['path'], '..., 0'])):
        t0 = time.perf_counter()
        try:
            done = subprocess.run(args, capture_output=True, timeout=CLI_TIMEOUT)
            rec[name] = {'rc': done.returncode, 't': time.perf_counter() - t0,
                         'stderr': done.stderr.decode('utf-8', 'replace')[-400:]}
        except subprocess.TimeoutExpired:
            rec[name] = {'rc': 'timeout', 'stderr': '', 't': time.perf_counter() - t0}
    if rec['slice']['rc'] == 0:
        try:
            theirs = np.asarray(nibabel.load(task['path']).dataobj[..., 0])
        except Exception:  # noqa: BLE001 - nibabel cannot read it: nothing to compare
            rec['slice']['cmp'] = 'nibabel raises'
        else:
            try:
                if theirs.dtype.fields:  # RGB/RGBA: the channels, as stored
                    ours = np.asarray(nibabel.load(out).dataobj)
                    ok = ours.shape == theirs.shape and np.array_equal(ours, theirs)
                else:
                    ours = nibabel.load(out).get_fdata()
                    with np.errstate(all='ignore'):
                        ok = ours.shape == theirs.shape and np.allclose(
                            ours, theirs.astype(np.float64), rtol=1e-6, atol=0,
                            equal_nan=True)
                rec['slice']['cmp'] = 'equal' if ok else 'differ'
            except Exception as e:  # noqa: BLE001
                rec['slice']['cmp'] = f'output unreadable: {e}'[:200]
        Path(out).unlink(missing_ok=True)
    return rec


CLI_TIMEOUT = 20


# ---------------------------------------------------------------------------------------------
# The parent: batches of tasks through workers, two at a time, with watchdogs.
# ---------------------------------------------------------------------------------------------

STALL = 20.0     # seconds one file may take before its worker is called hung
START = 120.0    # seconds a worker may take to import its libraries


def _env(workdir):
    env = dict(os.environ)
    env['NEUROVOX_GZIP_INDEX_DIR'] = str(Path(workdir) / 'gzip-index-cache')
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


def _parse(path):
    begun, results, partial, ready = [], {}, {}, False
    if Path(path).exists():
        for line in Path(path).read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if 'ready' in rec:
                ready = True
            elif 'begin' in rec:
                begun.append(rec['begin'])
            elif 'partial' in rec:
                partial.setdefault(rec.pop('partial'), {}).update(rec)
            else:
                results[rec['i']] = rec
    return ready, begun, results, partial


def run_tasks(tasks, mode, workdir, batch=200, jobs=2, nice=0, stall=STALL, retries=0):
    """Runs ``tasks`` through workers. Returns (results by index, events): an event is a
    worker that died or hung, with the file it was on, its exit status and stderr tail."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    env = _env(workdir)
    queue = [tasks[k:k + batch] for k in range(0, len(tasks), batch)]
    running, results, events, serial = [], {}, [], 0
    while queue or running:
        while queue and len(running) < jobs:
            chunk = queue.pop(0)
            serial += 1
            tp, op_ = workdir / f'{mode}-{serial}.tasks', workdir / f'{mode}-{serial}.out'
            tp.write_text(json.dumps(chunk))
            err = open(workdir / f'{mode}-{serial}.err', 'wb')
            args = [sys.executable, str(HERE), 'worker', mode, str(tp), str(op_)]
            if nice:
                args = ['nice', '-n', str(nice)] + args
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, env=env,
                                    cwd=workdir)
            running.append({'proc': proc, 'chunk': chunk, 'out': op_, 'err': err,
                            'size': -1, 'moved': time.monotonic(), 'started': time.monotonic()})
        time.sleep(0.02)
        for w in list(running):
            rc = w['proc'].poll()
            now = time.monotonic()
            hung = False
            if rc is None:
                size = w['out'].stat().st_size if w['out'].exists() else 0
                if size != w['size']:
                    w['size'], w['moved'] = size, now
                limit = START if size == 0 else stall
                if now - w['moved'] < limit:
                    continue
                w['proc'].kill()
                w['proc'].wait()
                rc, hung = w['proc'].returncode, True
            running.remove(w)
            w['err'].close()
            ready, begun, got, partial = _parse(w['out'])
            results.update(got)
            if rc == 0 and not hung and len(got) == len(w['chunk']):
                continue
            stderr = Path(w['err'].name).read_bytes()[-1500:].decode('utf-8', 'replace')
            if not ready:
                if retries <= 0:
                    raise RuntimeError(f'a {mode} worker failed before its first file '
                                       f'(exit {rc}): {stderr}')
                retries -= 1  # a long campaign waits out a rebuild of the package
                time.sleep(60)
                queue.append(w['chunk'])
                continue
            pending = [t for t in w['chunk'] if t['i'] not in got]
            culprit = begun[-1] if begun and begun[-1] not in got else None
            task = next((t for t in w['chunk'] if t['i'] == culprit), None)
            # In 'both' mode neurovox runs first: with its record out, nibabel was running.
            lib = 'nib' if mode == 'nib' or 'nv' in partial.get(culprit, {}) else \
                'nv' if mode in ('nv', 'both') else mode
            events.append({'kind': 'hang' if hung else 'crash', 'mode': mode, 'rc': rc,
                           'i': culprit, 'task': task, 'lib': lib, 'stderr': stderr})
            if culprit is not None and lib == 'nib' and mode == 'both':
                dead = {'ok': False, 'type': 'NibabelCrashOrHang', 'exception': True,
                        'msg': f'the worker {"hung" if hung else "died"} in nibabel'}
                results[culprit] = {'i': culprit, 'nv': partial[culprit]['nv'],
                                    'nib': {'load': dead}, 'cmp': {}}
            rest = [t for t in pending if t['i'] != culprit]
            if rest:
                queue.append(rest)
    return results, events


def confirm(task, workdir, timeout=60):
    """Runs one file alone through neurovox only and nibabel only: who crashes or hangs."""
    out = {}
    for mode in ('nv', 'nib'):
        results, events = run_tasks([task], mode, Path(workdir) / f'confirm-{task["i"]}',
                                    batch=1, jobs=1, stall=timeout)
        out[mode] = events[0] if events else 'ok'
    return out


def run_campaign(workdir, count, seed=14, cli_count=300, batch=200, jobs=2, nice=0,
                 retries=0):
    """Seeds, ``count`` mutants, the Python reads and a CLI sample: a summary dict."""
    workdir = Path(workdir)
    t0 = time.monotonic()
    seeds = make_seeds(workdir / 'seeds')
    tasks = write_mutants(seeds, workdir / 'mutants', count, seed)
    t_gen = time.monotonic() - t0
    results, events = run_tasks(tasks, 'both', workdir / 'work', batch, jobs, nice,
                                retries=retries)
    t_py = time.monotonic() - t0 - t_gen
    for ev in events:
        if ev['task'] is not None and ev['lib'] == 'nv':
            ev['confirm'] = confirm(ev['task'], workdir / 'work')
    step = max(1, len(tasks) // max(1, cli_count))
    cli_tasks = tasks[::step][:cli_count]
    cli_results, cli_events = run_tasks(cli_tasks, 'cli', workdir / 'cli', 100, jobs, nice,
                                        stall=3 * CLI_TIMEOUT, retries=retries)
    summary = summarise(tasks, results, events, cli_tasks, cli_results, cli_events)
    summary['seconds'] = {'generate': round(t_gen, 1), 'python': round(t_py, 1),
                          'total': round(time.monotonic() - t0, 1)}
    summary['seeds'] = len(seeds)
    return summary


# ---------------------------------------------------------------------------------------------
# Classification.
# ---------------------------------------------------------------------------------------------

UNCLEAN = {'PanicException', 'SystemError'}


def _ok(rec, op):
    return rec is not None and op in rec and rec[op].get('ok')


def _err(rec):
    """The first error a probe met (load, then fdata, then slice), or None."""
    for op in ('load', 'fdata', 'slice'):
        if rec and op in rec and not rec[op].get('ok'):
            return op, rec[op]
    return None


def _reason(msg):
    """An error message without the file name and numbers, to group errors by kind."""
    import re
    msg = re.sub(r"'[^']*m\d{6}[^']*'|\S*m\d{6}\S*", 'FILE', msg)
    msg = re.sub(r'-?\d+(\.\d+)?(e[+-]?\d+)?', 'N', msg)
    return msg[:110]


def summarise(tasks, results, events, cli_tasks, cli_results, cli_events):
    by_i = {t['i']: t for t in tasks}
    s = {'files': len(tasks), 'results': len(results), 'ops': {}, 'differ': [],
         'nib_renamed': 0,
         'unclean': [], 'unnamed': Counter(), 'unnamed_examples': [], 'nv_only_reasons': Counter(),
         'nv_raises_reasons': Counter(), 'nib_only_reasons': Counter(), 'seed_checked': 0,
         'seed_differ': [], 'slow': [], 'events': events, 'affine_differ': [],
         'class_differ': Counter(), 'nib_crash_or_hang': 0}
    for op in ('load', 'fdata', 'slice'):
        s['ops'][op] = Counter()
    for i, r in results.items():
        nib, nv, cmp = r.get('nib'), r.get('nv'), r.get('cmp', {})
        t = by_i[i]
        for op in ('load', 'fdata', 'slice'):
            a, b = _ok(nib, op), _ok(nv, op)
            if a and b:
                if op == 'load':
                    x, y = nib['load'], nv['load']
                    c = 'equal' if (x['shape'], x['dtype']) == (y['shape'], y['dtype']) else \
                        f"differ: {x['shape']} {x['dtype']} vs {y['shape']} {y['dtype']}"
                else:
                    c = cmp.get(op, 'missing')
                if c.startswith('differ'):
                    s['differ'].append({'i': i, 'op': op, 'cmp': c, 'seed': t['seed'],
                                        'mutation': t['mutation'], 'path': t['path']})
                    c = 'DIFFER'
                s['ops'][op]['both read, ' + c] += 1
            elif a:
                s['ops'][op]['nibabel reads, neurovox raises'] += 1
            elif b:
                s['ops'][op]['neurovox reads, nibabel raises'] += 1
            else:
                s['ops'][op]['both raise'] += 1
        if _ok(nib, 'load') and _ok(nv, 'load'):
            s['nib_renamed'] += bool(nib['load'].get('renamed'))
            if nib['load']['cls'] != nv['load']['cls']:
                s['class_differ'][f"{nib['load']['cls']} vs {nv['load']['cls']}"] += 1
            if cmp.get('affine', 'equal') != 'equal':
                s['affine_differ'].append({'i': i, 'seed': t['seed'], 'mutation': t['mutation'],
                                           'cmp': cmp['affine'][:300]})
        err = _err(nv)
        if err:
            op, e = err
            if not e['exception'] or e['type'] in UNCLEAN:
                s['unclean'].append({'i': i, 'op': op, 'error': e, 'seed': t['seed'],
                                     'mutation': t['mutation'], 'path': t['path']})
            if t['stem'] not in e['msg']:
                s['unnamed'][f"{e['type']}: {_reason(e['msg'])}"] += 1
                if len(s['unnamed_examples']) < 20:
                    s['unnamed_examples'].append({'i': i, 'op': op, 'error': e,
                                                  'seed': t['seed'], 'mutation': t['mutation']})
            s['nv_raises_reasons'][f"{op}: {e['type']}: {_reason(e['msg'])}"] += 1
            if _ok(nib, op):
                s['nv_only_reasons'][f"{op}: {e['type']}: {_reason(e['msg'])}"] += 1
        if 'seed' in cmp:
            s['seed_checked'] += 1
            if cmp['seed'] != 'equal':
                s['seed_differ'].append({'i': i, 'cmp': cmp['seed'], 'tail': cmp.get(
                    'gzip_tail'), 'seed': t['seed'], 'mutation': t['mutation'],
                    'path': t['path']})
        err = _err(nib)
        if err and _ok(nv, err[0]):
            s['nib_only_reasons'][f"{err[0]}: {err[1]['type']}: {_reason(err[1]['msg'])}"] += 1
        tt = (nv or {}).get('t', 0)
        s['slow'].append((round(tt, 3), i))
    s['slow'] = [{'t': tt, 'i': i, 'seed': by_i[i]['seed'], 'mutation': by_i[i]['mutation']}
                 for tt, i in sorted(s['slow'], reverse=True)[:5]]
    # A worker that died or hung: neurovox's fault unless only nibabel does it alone.
    s['neurovox_crash_or_hang'] = []
    for ev in events:
        c = ev.get('confirm', {})
        if ev['lib'] == 'nib' or (c and c.get('nv') == 'ok' and c.get('nib') != 'ok'):
            s['nib_crash_or_hang'] += 1
        else:
            s['neurovox_crash_or_hang'].append(ev)
    # CLI.
    cli = {'files': len(cli_tasks), 'results': len(cli_results), 'rc': Counter(),
           'bad': [], 'unnamed': 0, 'slice_vs_nibabel': Counter(), 'events': cli_events}
    cby = {t['i']: t for t in cli_tasks}
    for i, r in cli_results.items():
        t = cby[i]
        for cmd in ('stats', 'slice'):
            c = r['cli'][cmd]
            cli['rc'][f'{cmd} {c["rc"]}'] += 1
            bad = c['rc'] == 'timeout' or c['rc'] < 0 or c['rc'] in (101, 134) or (
                c['rc'] != 0 and not c['stderr'].strip()) or 'panicked' in c['stderr']
            if bad:
                cli['bad'].append({'i': i, 'cmd': cmd, 'rc': c['rc'], 'stderr': c['stderr'],
                                   'seed': t['seed'], 'mutation': t['mutation'],
                                   'path': t['path']})
            elif c['rc'] != 0 and t['stem'] not in c['stderr']:
                cli['unnamed'] += 1
            if cmd == 'slice' and 'cmp' in c:
                cli['slice_vs_nibabel'][c['cmp']] += 1
                if c['cmp'] not in ('equal', 'nibabel raises'):
                    cli['bad'].append({'i': i, 'cmd': cmd, 'rc': 0, 'stderr': c['cmp'],
                                       'seed': t['seed'], 'mutation': t['mutation'],
                                       'path': t['path']})
    s['cli'] = cli
    return s


def printable(summary, top=12):
    """The summary as text for a report."""
    s = summary
    lines = [f"files {s['files']} (results {s['results']}, seeds {s.get('seeds')}), "
             f"seconds {s.get('seconds')}"]
    for op, c in s['ops'].items():
        lines.append(f'  {op}: ' + ', '.join(f'{k} {v}' for k, v in sorted(c.items())))
    lines.append(f"  values differ: {len(s['differ'])}; unclean neurovox errors: "
                 f"{len(s['unclean'])}; neurovox crash/hang: {len(s['neurovox_crash_or_hang'])}"
                 f"; nibabel-only crash/hang: {s['nib_crash_or_hang']}")
    lines.append(f"  full reads of a damaged gzip stream checked against the seed: "
                 f"{s['seed_checked']}; other values returned: {len(s['seed_differ'])}")
    lines.append(f"  affine differs (both load): {len(s['affine_differ'])}; class differs: "
                 f"{dict(s['class_differ'])}; both load with nibabel given a copy named "
                 f"after the content's compression: {s['nib_renamed']}")
    lines.append(f"  neurovox errors not naming the file: {sum(s['unnamed'].values())}")
    for k, v in s['unnamed'].most_common(top):
        lines.append(f'      {v:6d}  {k}')
    lines.append('  nibabel reads, neurovox raises (first neurovox error):')
    for k, v in s['nv_only_reasons'].most_common(top):
        lines.append(f'      {v:6d}  {k}')
    lines.append('  neurovox reads, nibabel raises (first nibabel error):')
    for k, v in s['nib_only_reasons'].most_common(top):
        lines.append(f'      {v:6d}  {k}')
    lines.append(f"  slowest neurovox files: {s['slow'][:3]}")
    c = s['cli']
    lines.append(f"cli files {c['files']} (results {c['results']}): rc {dict(c['rc'])}; "
                 f"bad {len(c['bad'])}; errors not naming the file {c['unnamed']}; slice vs "
                 f"nibabel {dict(c['slice_vs_nibabel'])}; worker events {len(c['events'])}")
    return '\n'.join(lines)


def main(argv):
    if argv[0] == 'worker':
        worker(*argv[1:4])
        return
    if argv[0] == 'campaign':
        import argparse
        import tempfile
        p = argparse.ArgumentParser()
        p.add_argument('--count', type=int, default=20000)
        p.add_argument('--cli-count', type=int, default=2000)
        p.add_argument('--seed', type=int, default=14)
        p.add_argument('--nice', type=int, default=10)
        p.add_argument('--jobs', type=int, default=2)
        p.add_argument('--report')
        p.add_argument('--workdir')
        a = p.parse_args(argv[1:])
        workdir = a.workdir or tempfile.mkdtemp(prefix='nv-mutation-')
        s = run_campaign(workdir, a.count, a.seed, a.cli_count, jobs=a.jobs, nice=a.nice,
                         retries=20)
        print(printable(s, top=40))
        if a.report:
            Path(a.report).write_text(json.dumps(s, indent=1, default=str))
        return
    raise SystemExit(f'usage: {HERE.name} worker MODE TASKS OUT | campaign [--count N]')


if __name__ == '__main__':
    main(sys.argv[1:])
