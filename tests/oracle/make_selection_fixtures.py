"""Generate the numpy oracle for neurovox's selections: random basic-indexing keys.

For a handful of NIfTI-1 images written by nibabel, this script draws random
numpy *basic* indexing keys (integers, negative ones too; slices with positive
and negative steps and out-of-range starts and stops; ``...``; ``None``) and
records numpy's answer to ``np.asanyarray(img.dataobj)[key]``, nibabel's full
array, scaled.  ``crates/neurovox/tests/selection_oracle.rs`` parses every key
with ``Selection::from_str`` and reads it through neurovox's proxy.

Usage::

    python tests/oracle/make_selection_fixtures.py OUTDIR

The script (re)creates OUTDIR and writes

* ``images/ID.nii`` and ``images/ID.nii.gz``: the same image twice, through
  nibabel's own writer;
* ``answers_ID.npz``: numpy's answer for key ``n`` as member ``kN``, and the
  stored (unscaled) values as member ``unscaled``;
* ``manifest.json``::

      {"images": [{"id", "nii", "nii_gz", "dtype", "shape", "slope", "inter",
                   "answer_dtype", "answers", "unscaled",
                   "keys": ["...,3", ":, -1::-2, None", ...],
                   "errors": ["7", "0, 0", "..., 0, ...", "::0", ...]}]}

  Paths are relative to OUTDIR; ``dtype`` is the stored numpy dtype string
  (``<i2``, ``>i4``, ...), ``slope``/``inter`` are null for unscaled images.
  Every key is what Python writes inside ``a[...]`` (checked with ``eval``),
  so ``"()"`` is the empty key.  ``errors`` are keys numpy rejects with
  ``IndexError`` or ``ValueError``: an index out of range, too many indices,
  two ellipses, a step of 0.

The keys come from a seeded RNG, so the output is the same on every run.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np

KEYS_PER_IMAGE = 450
# The extremes of a 64-bit isize: neurovox's keys hold isize bounds and steps.
ISIZE_MIN, ISIZE_MAX = -(2**63), 2**63 - 1
SEED = 20_250_611

# (id, stored dtype, shape, (slope, inter) or None)
IMAGES = (
    ('i16_1d_scaled', np.dtype('<i2'), (7,), (2.0, -3.0)),
    ('u8_2d_scaled', np.dtype('u1'), (5, 4), (0.25, 1.5)),
    ('f32_3d', np.dtype('<f4'), (6, 5, 4), None),
    ('f64_4d_scaled', np.dtype('<f8'), (4, 3, 5, 3), (0.5, 10.0)),
    ('c64_5d', np.dtype('<c8'), (3, 2, 4, 2, 3), None),
    ('i32be_unit_axes', np.dtype('>i4'), (1, 4, 1, 3), None),
)


def make_data(rng: np.random.Generator, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """Distinct-looking values of `dtype`, with NaN, infinities and -0.0 for float32."""
    n = int(np.prod(shape))
    if dtype.kind in 'iu':
        info = np.iinfo(dtype)
        flat = rng.integers(info.min, info.max, size=n, endpoint=True)
    elif dtype.kind == 'c':
        flat = rng.normal(size=n) * 100 + 1j * rng.normal(size=n) * 100
    else:
        flat = rng.normal(size=n) * 1000
        if dtype == np.float32:
            flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
            rng.shuffle(flat)
    return flat.astype(dtype).reshape(shape)


def write_image(outdir: Path, image_id: str, data: np.ndarray, scaling) -> tuple[Path, Path]:
    header = nib.Nifti1Header(endianness=data.dtype.byteorder if data.dtype.byteorder in '<>' else '<')
    header.set_data_dtype(data.dtype)
    img = nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0]), header=header)
    if scaling is not None:
        img.header.set_slope_inter(*scaling)
    paths = (outdir / 'images' / f'{image_id}.nii', outdir / 'images' / f'{image_id}.nii.gz')
    for path in paths:
        nib.save(img, path)
    return paths


def bound(rnd: random.Random, d: int) -> int | None:
    """A slice start or stop: omitted, inside the axis, or beyond either end (rarely as far
    as an isize goes)."""
    r = rnd.random()
    if r < 0.25:
        return None
    if r < 0.75:
        return rnd.randint(-d, d)
    if r < 0.78:
        return rnd.choice((ISIZE_MIN, -ISIZE_MAX, ISIZE_MAX))
    return rnd.choice((rnd.randint(-3 * d - 5, -d - 1), rnd.randint(d + 1, 3 * d + 5)))


def step(rnd: random.Random, d: int) -> int | None:
    r = rnd.random()
    if r < 0.25:
        return None
    if r < 0.5:
        return rnd.choice((1, -1))
    if r < 0.52:
        return rnd.choice((ISIZE_MIN, -ISIZE_MAX, ISIZE_MAX))
    return rnd.choice((1, -1)) * rnd.randint(1, d + 2)


def random_key(rnd: random.Random, shape: tuple[int, ...]) -> tuple:
    """A valid basic-indexing key for `shape`, as a tuple of Python objects."""
    n = len(shape)
    n_real = rnd.randint(0, n)
    ellipsis_at = rnd.randint(0, n_real) if rnd.random() < 0.35 else None
    # Items before the ellipsis index the first axes, those after it the last ones.
    if ellipsis_at is None:
        axes = list(range(n_real))
    else:
        axes = list(range(ellipsis_at)) + list(range(n - (n_real - ellipsis_at), n))
    items: list = []
    for axis in axes:
        d = shape[axis]
        if rnd.random() < 0.35:
            items.append(rnd.randint(-d, d - 1))
        else:
            s = slice(bound(rnd, d), bound(rnd, d), step(rnd, d))
            if not range(*s.indices(d)) and rnd.random() < 0.6:
                # Mostly non-empty slices, so that values are compared too.
                s = slice(s.stop, s.start, s.step)
            items.append(s)
    if ellipsis_at is not None:
        items.insert(ellipsis_at, Ellipsis)
    for _ in range(rnd.choice((0, 0, 0, 1, 1, 2, 3))):
        items.insert(rnd.randint(0, len(items)), None)
    return tuple(items)


def spell_item(rnd: random.Random, item) -> str:
    if item is Ellipsis:
        return '...'
    if item is None:
        return 'None'
    if isinstance(item, int):
        return str(item)
    parts = ['' if v is None else str(v) for v in (item.start, item.stop, item.step)]
    text = ':'.join(parts) if item.step is not None else ':'.join(parts[:2])
    if item.step is None and rnd.random() < 0.1:
        text += ':'  # `1:4:` is `1:4`
    if rnd.random() < 0.1:
        text = text.replace(':', ' : ')
    return text


def spell(rnd: random.Random, key: tuple) -> str:
    """Python's spelling of `key` inside `a[...]`, with some variety in the blanks."""
    if not key:
        return '()'
    text = rnd.choice((', ', ',', ' , ')).join(spell_item(rnd, item) for item in key)
    has_slice = any(isinstance(item, slice) for item in key)
    if len(key) == 1 and rnd.random() < 0.3:
        text += ','
    elif not has_slice and rnd.random() < 0.3:
        # Parentheses are Python syntax only around keys without slices.
        text = f'({text},)' if len(key) == 1 else f'({text})'
    return text


class _Echo:
    def __getitem__(self, key):
        return key


def as_tuple(key) -> tuple:
    return key if isinstance(key, tuple) else (key,)


def check_spelling(text: str, key: tuple) -> None:
    parsed = as_tuple(eval(f'_Echo()[{text}]'))  # noqa: S307 - our own strings
    assert parsed == key, (text, parsed, key)


def error_keys(shape: tuple[int, ...]) -> list[str]:
    n = len(shape)
    fill = [':'] * (n - 1)
    return [
        str(shape[0]),  # index past the end
        ', '.join(fill + [str(-shape[-1] - 1)]),  # negative index before the start
        ', '.join(['0'] * (n + 1)),  # too many indices
        ', '.join(['-1'] * n + ['None', ':']),  # too many, with a new axis
        '..., 0, ...',  # two ellipses
        '...,...',
        '::0',  # step 0
        ', '.join(fill + ['1:3:0']),
    ]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    t0 = time.perf_counter()
    outdir = Path(sys.argv[1])
    shutil.rmtree(outdir, ignore_errors=True)
    (outdir / 'images').mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    entries = []
    n_keys = n_errors = 0
    for image_id, dtype, shape, scaling in IMAGES:
        nii, nii_gz = write_image(outdir, image_id, make_data(rng, dtype, shape), scaling)
        img = nib.load(nii)
        full = np.asanyarray(img.dataobj)
        full_gz = np.asanyarray(nib.load(nii_gz).dataobj)
        assert full.shape == shape and full.dtype == full_gz.dtype
        np.testing.assert_array_equal(full, full_gz)
        assert img.dataobj.dtype == dtype, (img.dataobj.dtype, dtype)
        assert (img.dataobj.slope, img.dataobj.inter) == (scaling or (1.0, 0.0))

        rnd = random.Random(f'{SEED}-{image_id}')
        keys = [(), (Ellipsis,)] + [random_key(rnd, shape) for _ in range(KEYS_PER_IMAGE - 2)]
        texts, answers = [], {}
        for n, key in enumerate(keys):
            text = spell(rnd, key)
            check_spelling(text, key)
            texts.append(text)
            # np.array, not ascontiguousarray, keeps 0-d answers 0-d.
            answers[f'k{n}'] = np.array(full[key], order='C')
        answers['unscaled'] = np.array(img.dataobj.get_unscaled(), order='C')
        errors = []
        for text in error_keys(shape):
            try:
                full[as_tuple(eval(f'_Echo()[{text}]'))]  # noqa: S307
            except (IndexError, ValueError):
                errors.append(text)
            else:
                raise AssertionError(f'{image_id}: numpy accepts error key {text!r}')
        np.savez(outdir / f'answers_{image_id}.npz', **answers)
        entries.append({
            'id': image_id,
            'nii': str(nii.relative_to(outdir)),
            'nii_gz': str(nii_gz.relative_to(outdir)),
            'dtype': dtype.str,
            'shape': list(shape),
            'slope': None if scaling is None else scaling[0],
            'inter': None if scaling is None else scaling[1],
            'answer_dtype': full.dtype.str,
            'answers': f'answers_{image_id}.npz',
            'unscaled': 'unscaled',
            'keys': texts,
            'errors': errors,
        })
        n_keys += len(texts)
        n_errors += len(errors)
    with open(outdir / 'manifest.json', 'w') as f:
        json.dump({'images': entries}, f, indent=1)
    print(f'wrote {len(entries)} images, {n_keys} keys and {n_errors} error keys to {outdir} '
          f'in {time.perf_counter() - t0:.2f} s')


if __name__ == '__main__':
    main()
