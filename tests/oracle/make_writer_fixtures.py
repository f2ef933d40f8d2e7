"""Generate the nibabel oracle for neurovox's array writers (``write_scale.rs``).

For every (input array, output dtype, writer kind) case this script asks nibabel
which scale factors its array writer chooses and which bytes it writes:

* ``w = arraywriters.make_array_writer(arr, out_dtype, has_slope, has_intercept)``
  with ``(True, True)`` for ``SlopeInter`` (NIfTI-1/2), ``(True, False)`` for
  ``Slope`` (SPM99/SPM2) and ``(False, False)`` for ``NoScaling`` (Analyze,
  MGH);
* ``arraywriters.get_slope_inter(w)``, or the exception the constructor raises;
* ``w.to_fileobj(bio, order='F')``: the bytes, or the exception it raises.

``crates/neurovox/tests/writer_oracle.rs`` runs ``choose_scaling`` and
``write_values`` on the same inputs and compares the slope and intercept
(exactly, as float32 values) and every byte.

Usage::

    python tests/oracle/make_writer_fixtures.py OUTDIR

The script (re)creates OUTDIR and writes

* ``inputs/NAME.npy``: the input arrays (some in Fortran order, some 0-sized);
* ``manifest.json``::

      {"cases": [{"id", "input", "in_dtype", "shape", "out_dtype", "kind",
                  "writer_error": null | {"type", "message"},
                  "slope", "inter",          # floats as strings (repr), or null
                  "slope_bits", "inter_bits", # float32 bit patterns, or null
                  "write_error": null | {"type", "message"},
                  "bytes": "hex" | null}],
       "stats": {...}}

  ``out_dtype`` is a little-endian numpy dtype string (``<i2``); a few cases
  use big-endian output (``>i2``) to check the byte order.  ``slope`` and
  ``inter`` are ``repr`` of Python floats (``'inf'``, ``'nan'`` possible).

``stats`` also records how many cases would get a different float32 slope or
intercept if nibabel computed ``_range_scale`` in float64 instead of x87 long
double (``best_float()``): the measurement behind neurovox's software
extended-precision arithmetic.

Inputs are built from a seeded generator, so every run writes the same files.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import warnings
from io import BytesIO
from pathlib import Path

import numpy as np
from nibabel import arraywriters

SEED = 20_250_702
OUT_DTYPES = ('u1', 'i1', 'i2', 'u2', 'i4', 'u4', 'i8', 'u8', 'f4', 'f8')
# Extra big-endian outputs, checked for a subset of inputs.
BIG_ENDIAN_OUT = ('>i2', '>u4', '>f4', '>i8')
KINDS = {
    'SlopeInter': (True, True),
    'Slope': (True, False),
    'NoScaling': (False, False),
}


def inputs(rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """(name, array) pairs: every input dtype with the ranges that matter."""
    out: list[tuple[str, np.ndarray]] = []

    def add(name: str, values, dtype, shape=None, fortran=False):
        arr = np.array(values, dtype=dtype)
        if shape is not None:
            arr = arr.reshape(shape)
        if fortran:
            arr = np.asfortranarray(arr)
        out.append((name, arr))

    nan, inf = np.nan, np.inf
    ties = [-128, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 126.5, 127]
    for ft in ('f8', 'f4'):
        add(f'{ft}_pos', rng.uniform(0.5, 1000, 24), ft, (2, 3, 4))
        add(f'{ft}_pos_f', rng.uniform(0.5, 1000, 24), ft, (2, 3, 4), fortran=True)
        add(f'{ft}_neg', rng.uniform(-1000, -0.25, 20), ft, (4, 5))
        add(f'{ft}_mixed', rng.uniform(-3.7, 12.2, 30), ft, (5, 3, 2), fortran=True)
        add(f'{ft}_mixed_negheavy', rng.uniform(-500, 3, 12), ft, (3, 4))
        add(f'{ft}_normal4d', rng.normal(100, 30, 120), ft, (2, 3, 4, 5))
        add(f'{ft}_tiny_range', 1 + 1e-6 * np.arange(10), ft)
        add(f'{ft}_tiny_vals', rng.uniform(-1e-30, 1e-30, 9), ft)
        add(f'{ft}_const', [5.5] * 6, ft, (2, 3))
        add(f'{ft}_const_neg', [-2.25] * 4, ft)
        add(f'{ft}_zeros', [0.0] * 5, ft)
        add(f'{ft}_nan_mixed', [nan, -3.5, 2.25, 7.0, nan, 0.125], ft, (2, 3))
        add(f'{ft}_nan_pos', [nan, 10.0, 12.5, 300.0], ft)
        add(f'{ft}_nan_neg', [-10.0, nan, -12.5, -300.0], ft)
        add(f'{ft}_inf', [-inf, 1.0, 2.5, 100.0, inf, -7.0], ft, (3, 2))
        add(f'{ft}_nan_inf', [nan, 1.0, 2.0, inf], ft)
        add(f'{ft}_zero_nan_inf', [0.0, nan, inf, -inf, 0.0], ft)
        add(f'{ft}_all_nan', [nan] * 4, ft)
        add(f'{ft}_all_inf', [inf, -inf, inf], ft)
        add(f'{ft}_nan_inf_only', [nan, inf, -inf], ft)
        add(f'{ft}_ties', ties, ft)
        add(f'{ft}_i8_exact', [-128.0, 0.0, 127.0], ft)
        add(f'{ft}_u8_exact', [0.0, 17.0, 255.0], ft)
        add(f'{ft}_i16_exact', [-32768.0, 5.0, 32767.0], ft)
        add(f'{ft}_u16_exact', [0.0, 65535.0], ft)
        add(f'{ft}_i32_lim', [-2147483648.0, 2147483520.0], ft)
        add(f'{ft}_u32_lim', [0.0, 4294967040.0], ft)
        add(f'{ft}_big', rng.uniform(-1e20, 1e20, 8), ft)
        add(f'{ft}_huge_pos', [1e37, 3e38], ft)
        add(f'{ft}_empty', [], ft)
        add(f'{ft}_empty2d', np.zeros((3, 0)), ft)
        add(f'{ft}_scalar_like', [42.75], ft, (1, 1, 1))
        add(f'{ft}_small_ints', rng.integers(-5, 6, 15).astype(float), ft, (5, 3))
        add(f'{ft}_negzero', [-0.0, 1.0, 2.0, -0.0], ft)
        add(f'{ft}_nan_zero_range', [nan, 0.0, 1e-3], ft)
        add(f'{ft}_one_third', [1 / 3, 2 / 3, 1.0, 4 / 3], ft)
    # float64-only extremes: beyond float32, beyond the float64 range of a difference,
    # subnormals, and ranges where x87 long double and float64 round differently.
    add('f8_huge', [1e300, -1e300, 0.0], 'f8')
    add('f8_range_overflow', [-1.7e308, 1.7e308], 'f8')
    add('f8_subnormal', [0.0, 1e-310, 5e-324], 'f8')
    add('f8_near_f32_max', [-3.4e38, 3.4e38], 'f8')
    add('f8_i64_lim', [-9.3e18, 9.2e18], 'f8')
    add('f8_u64_lim', [0.0, 1.8e19], 'f8')
    add('f8_offset_big', 1e10 + rng.uniform(0, 1, 10), 'f8')
    add('f8_const_big', [1.1e10] * 3, 'f8')
    for i in range(24):
        # Random ranges of random magnitudes: the slope/intercept arithmetic sees many
        # different mantissas; these are the cases where precision could show.
        lo = rng.uniform(-1, 1) * 10.0 ** rng.integers(-8, 12)
        hi = lo + abs(rng.normal()) * 10.0 ** rng.integers(-6, 12)
        vals = rng.uniform(lo, hi, 16)
        vals[0], vals[-1] = lo, hi
        if i % 3 == 0:
            vals[3] = nan
        add(f'f8_rand{i:02d}', vals, 'f8', (4, 4), fortran=bool(i % 2))
    for i in range(8):
        lo = rng.uniform(-1, 1) * 10.0 ** rng.integers(-4, 8)
        hi = lo + abs(rng.normal()) * 10.0 ** rng.integers(-3, 8)
        vals = rng.uniform(lo, hi, 12)
        vals[0], vals[-1] = lo, hi
        add(f'f4_rand{i:02d}', vals, 'f4', (3, 4))

    def ints(name, dt, lo, hi, n=16, shape=None, extra=()):
        info = np.iinfo(dt)
        lo, hi = max(lo, info.min), min(hi, info.max)
        if lo > hi:
            return
        vals = [int(v) for v in rng.integers(lo, hi, n, endpoint=True, dtype=dt)]
        vals[0], vals[-1] = lo, hi
        vals.extend(extra)
        add(name, vals, dt, shape)

    for dt in ('i2', 'i4', 'u2', 'i8', 'u1', 'i1', 'u4', 'u8'):
        info = np.iinfo(dt)
        ints(f'{dt}_full', dt, int(info.min), int(info.max), 16, (4, 4))
        ints(f'{dt}_small_mixed', dt, -5, 3, 9)
        ints(f'{dt}_small_pos', dt, 0, 100, 12, (3, 4))
        ints(f'{dt}_top', dt, int(info.max) - 300, int(info.max), 10)
        ints(f'{dt}_u8_range', dt, 0, 255, 8)
        ints(f'{dt}_shifted', dt, 1000, 1200, 10)
        add(f'{dt}_zeros', [0, 0, 0], dt)
        add(f'{dt}_empty', [], dt)
        if info.min < 0:
            ints(f'{dt}_neg', dt, int(info.min), -1, 12)
            ints(f'{dt}_neg_small', dt, -300, -1, 12)
            ints(f'{dt}_neg_u8', dt, -255, 0, 6)
            ints(f'{dt}_bottom', dt, int(info.min), int(info.min) + 200, 8)
            ints(f'{dt}_i16_range', dt, -32768, 32767, 8)
            add(f'{dt}_min_only', [int(info.min)] * 3, dt)
    ints('i4_big_offset', 'i4', 100_000, 100_300, 10)
    ints('i4_wide', 'i4', -1_000_000_000, 1_000_000_000, 12, (3, 4))
    ints('i4_u16_over', 'i4', -10, 70_000, 10)
    ints('i8_offset_2_62', 'i8', 2**62, 2**62 + 1000, 10)
    ints('i8_2_53', 'i8', 0, 2**53 + 1, 6)
    ints('i8_double_round', 'i8', 2**60 + 2**36 + 1, 2**60 + 2**36 + 200, 6)
    ints('i8_double_round_neg', 'i8', -(2**60) - 2**36 - 200, -(2**60) - 2**36 - 1, 6)
    ints('i8_wide_neg', 'i8', -(2**62), -(2**40), 8)
    ints('u8_2_63', 'u8', 2**63 - 500, 2**63 + 500, 8)
    ints('u8_wide', 'u8', 2**40, 2**63, 8)
    add('i8_const_big', [2**63 - 1] * 3, 'i8')
    add('u8_const_top', [2**64 - 1] * 2, 'u8')
    # Random integer ranges of random magnitudes (log-uniform ends) in every integer type:
    # intercept-only, sign-flip and range scaling, floor_exact at every size.
    int_types = ('i2', 'i4', 'u2', 'i8', 'u1', 'i1', 'u4', 'u8')
    for i in range(32):
        dt = int_types[i % len(int_types)]
        info = np.iinfo(dt)

        def end():
            mag = int(2 ** rng.uniform(0, info.bits - (info.min < 0)))
            return max(int(info.min), min(int(info.max), -mag if rng.random() < 0.5 else mag))

        lo, hi = sorted((end(), end()))
        ints(f'{dt}_rand{i:02d}', dt, lo, hi, 8, (2, 4))
    # Larger C-ordered arrays: writing them in Fortran order is a transposition, which
    # neurovox does in tiles once both axes involved are long enough.
    big = rng.normal(0, 50, 12 * 10 * 9)
    big[[5, 100, 200]] = nan, inf, -inf
    add('f8_large_c', big, 'f8', (12, 10, 9))
    add('f4_large_c', rng.uniform(-1, 1e4, 10 * 9 * 8), 'f4', (10, 9, 8))
    add('i2_large_c', rng.integers(-2000, 30000, 16 * 3 * 9 * 10), 'i2', (16, 3, 9, 10))
    for i in range(8):
        vals = rng.uniform(-1, 1, 12) * 10.0 ** rng.integers(-3, 6)
        vals[rng.integers(0, 12)] = nan
        add(f'f4_rand_nan{i:02d}', vals, 'f4', (2, 6), fortran=bool(i % 2))
    return out


def describe_error(err: BaseException) -> dict:
    return {'type': type(err).__name__, 'message': str(err)}


def f32_bits(value) -> int:
    return int(np.array(value, dtype=np.float32).view(np.uint32))


def run_case(arr: np.ndarray, out_dtype: str, kind: str) -> dict:
    has_slope, has_inter = KINDS[kind]
    case: dict = {'writer_error': None, 'slope': None, 'inter': None, 'slope_bits': None,
                  'inter_bits': None, 'write_error': None, 'bytes': None}
    try:
        w = arraywriters.make_array_writer(arr, np.dtype(out_dtype), has_slope, has_inter)
    except Exception as err:  # noqa: BLE001 - the exception is the answer
        case['writer_error'] = describe_error(err)
        return case
    slope, inter = arraywriters.get_slope_inter(w)
    case['slope'], case['inter'] = repr(float(slope)), repr(float(inter))
    case['slope_bits'], case['inter_bits'] = f32_bits(slope), f32_bits(inter)
    bio = BytesIO()
    try:
        w.to_fileobj(bio, order='F')
    except Exception as err:  # noqa: BLE001
        case['write_error'] = describe_error(err)
        return case
    case['bytes'] = bio.getvalue().hex()
    return case


def f64_precision_scaling(arr: np.ndarray, out_dtype: str, kind: str):
    """nibabel's slope/inter bits if best_float() were float64 (None on error)."""
    has_slope, has_inter = KINDS[kind]
    saved = arraywriters.best_float
    arraywriters.best_float = lambda: np.float64
    try:
        w = arraywriters.make_array_writer(arr, np.dtype(out_dtype), has_slope, has_inter)
        slope, inter = arraywriters.get_slope_inter(w)
        return f32_bits(slope), f32_bits(inter)
    except Exception:  # noqa: BLE001
        return None
    finally:
        arraywriters.best_float = saved


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    start = time.time()
    outdir = Path(sys.argv[1])
    if outdir.exists():
        shutil.rmtree(outdir)
    (outdir / 'inputs').mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    cases = []
    differ_f64 = []
    with warnings.catch_warnings():
        # Overflow in float64 -> float32 casts and similar are part of what we record.
        warnings.simplefilter('ignore')
        for name, arr in inputs(rng):
            rel = f'inputs/{name}.npy'
            np.save(outdir / rel, arr)
            outs = list(OUT_DTYPES)
            if name.endswith(('_mixed', '_full', '_nan_inf')):
                outs += BIG_ENDIAN_OUT
            for out_dtype in outs:
                out_dt = np.dtype(out_dtype)
                out_str = out_dt.str if out_dt.itemsize > 1 else '|' + out_dt.str[1:]
                for kind in KINDS:
                    case = run_case(arr, out_str, kind)
                    case.update({'id': f'{name}-{out_str}-{kind}', 'input': rel,
                                 'in_dtype': arr.dtype.str, 'shape': list(arr.shape),
                                 'out_dtype': out_str, 'kind': kind})
                    cases.append(case)
                    if kind != 'NoScaling' and case['writer_error'] is None:
                        alt = f64_precision_scaling(arr, out_str, kind)
                        if alt != (case['slope_bits'], case['inter_bits']):
                            differ_f64.append(case['id'])
    stats = {
        'cases': len(cases),
        'writer_errors': sum(c['writer_error'] is not None for c in cases),
        'write_errors': sum(c['write_error'] is not None for c in cases),
        'scaled': sum(c['slope'] not in (None, '1.0') or c['inter'] not in (None, '0.0')
                      for c in cases),
        'differ_if_float64_range_scale': differ_f64,
    }
    manifest = {'cases': cases, 'stats': stats}
    (outdir / 'manifest.json').write_text(json.dumps(manifest, indent=1))
    print(f'wrote {len(cases)} writer cases to {outdir} in {time.time() - start:.1f}s '
          f"({stats['writer_errors']} writer errors, {stats['write_errors']} write errors, "
          f"{stats['scaled']} scaled; {len(differ_f64)} would differ with float64 "
          'range scaling)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
