"""Philips PAR/REC recordings against nibabel's ``parrec`` reader, the oracle at test time:
every ``.PAR`` nibabel ships (parsed, and made into headers with each ``permit_truncated`` /
``strict_sort`` nibabel accepts), the three that have a ``.REC`` (read through ``load``, the
proxy, file maps, pickles and a NIfTI save), copies written here with their image lines in
another order, and damaged ``.PAR``/``.REC`` pairs, which must be clear errors."""

from __future__ import annotations

import os
import pickle
import re
import shutil
import warnings

import numpy as np
import pytest

from oracle_helpers import NIBABEL_DATA, assert_same_array

import neurovox as nv

nibabel = pytest.importorskip('nibabel')
from nibabel import parrec as nib_parrec  # noqa: E402

PARS = sorted(name for name in os.listdir(NIBABEL_DATA) if name.endswith('.PAR'))
EG_PAR = os.path.join(NIBABEL_DATA, 'phantom_EPI_asc_CLEAR_2_1.PAR')
EG_REC = os.path.join(NIBABEL_DATA, 'phantom_EPI_asc_CLEAR_2_1.REC')
# The recordings with a .REC, and whether they need permit_truncated.
RECORDINGS = [('phantom_EPI_asc_CLEAR_2_1', False), ('phantom_varscale', False),
              ('phantom_truncated', True)]
FLAGS = [(False, False), (False, True), (True, False), (True, True)]
FLAG_IDS = ['lax', 'strict', 'truncated-lax', 'truncated-strict']
KEYS = [(), (0,), 3, Ellipsis, (Ellipsis, 0), (Ellipsis, -1), (slice(None, None, -1),),
        (slice(1, 40, 3), slice(None, None, -2), 4), (None, 1, Ellipsis, None),
        (slice(60, 2, -7), 31, slice(None), slice(None, None, -1)), (-1, -1, -1),
        (Ellipsis, slice(2, 7), None), (slice(None), None, slice(5, 0, -2))]


def _gist(message):
    """The first words of an error or warning message (numbers and arrays left out): what
    neurovox's message must say too."""
    return re.findall(r'[A-Za-z]+', re.split(r'[(\[:]', message, maxsplit=1)[0]
                      if not message.startswith('Header inconsistency') else message)[:6]


def assert_says_the_same(ours, theirs):
    for word in _gist(str(theirs)):
        assert word in str(ours), (str(ours), str(theirs))


def assert_same_value(ours, theirs, what, *, close=False):
    """Equal values of the same kind: arrays by dtype, shape and value (``close``: to 1e-12,
    for results of floating point arithmetic in another order), dicts key by key in order."""
    if theirs is None:
        assert ours is None, what
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs), what
        assert list(ours) == list(theirs), what
        for key in theirs:
            assert_same_value(ours[key], theirs[key], (what, key), close=close)
    elif isinstance(theirs, (tuple, list)):
        assert type(ours) is type(theirs), (what, type(ours), type(theirs))
        assert len(ours) == len(theirs), what
        for k, (a, b) in enumerate(zip(ours, theirs)):
            assert_same_value(a, b, (what, k), close=close)
    elif isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), (what, type(ours))
        assert ours.dtype == theirs.dtype, (what, ours.dtype, theirs.dtype)
        assert ours.shape == theirs.shape, (what, ours.shape, theirs.shape)
        if close and theirs.dtype.kind == 'f':
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12, err_msg=str(what))
        else:
            np.testing.assert_array_equal(ours, theirs, err_msg=str(what))
    else:
        assert ours == theirs, (what, ours, theirs)
        assert isinstance(ours, type(theirs)) or isinstance(theirs, type(ours)) or (
            np.isscalar(ours) and np.asarray(ours).dtype == np.asarray(theirs).dtype), (
                what, type(ours), type(theirs))


def _recorded(call):
    """``call()``'s result (or exception) and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try:
            result = ('ok', call())
        except Exception as e:  # noqa: BLE001 - compared with the other library's
            result = ('error', e)
    return result, [w for w in caught]


def assert_same_warnings(ours, theirs):
    assert len(ours) == len(theirs), ([str(w.message) for w in ours],
                                      [str(w.message) for w in theirs])
    for a, b in zip(ours, theirs):
        assert issubclass(a.category, UserWarning), a.category
        assert issubclass(b.category, UserWarning)
        assert_says_the_same(a.message, b.message)


def _headers(path, permit_truncated, strict_sort):
    def make(lib):
        def call():
            with open(path) as f:
                return lib.PARRECHeader.from_fileobj(f, permit_truncated=permit_truncated,
                                                     strict_sort=strict_sort)
        return _recorded(call)
    return make(nv.parrec), make(nib_parrec)


HEADER_METHODS = [('get_data_shape',), ('get_data_dtype',), ('get_zooms',), ('get_affine',),
                  ('get_affine', 'fov'), ('get_sorted_slice_indices',),
                  ('get_data_scaling', 'dv'), ('get_data_scaling', 'fp'),
                  ('get_volume_labels',), ('get_bvals_bvecs',), ('get_q_vectors',),
                  ('get_rec_shape',), ('get_slice_orientation',), ('as_analyze_map',),
                  ('get_water_fat_shift',), ('get_echo_train_length',), ('get_data_offset',)]


def assert_same_header(ours, theirs):
    """Every method of nibabel's header gives what nibabel's gives, warns where it warns and
    raises a PARRECError where it raises."""
    assert type(ours).__name__ == 'PARRECHeader'
    assert ours.permit_truncated == theirs.permit_truncated
    assert ours.strict_sort == theirs.strict_sort
    for name, *args in HEADER_METHODS:
        (status_a, a), warned_a = _recorded(lambda: getattr(ours, name)(*args))
        (status_b, b), warned_b = _recorded(lambda: getattr(theirs, name)(*args))
        assert_same_warnings(warned_a, warned_b)
        if status_b == 'error':
            assert status_a == 'error', (name, args, 'nibabel raises', b)
            assert isinstance(a, nv.parrec.PARRECError), (name, a)
            assert_says_the_same(a, b)
            continue
        assert status_a == 'ok', (name, args, a)
        close = name in ('get_affine', 'get_best_affine', 'get_q_vectors', 'get_bvals_bvecs',
                         'get_data_scaling')
        assert_same_value(a, b, (name, *args), close=close)
    for field in theirs.image_defs.dtype.names + ('no such field',):
        assert_same_value(ours.get_def(field), theirs.get_def(field), field)


def _parse(lib, path, mode='r'):
    def call():
        with open(path, mode) as f:
            return lib.parrec.parse_PAR_header(f) if lib is nv else lib.parse_PAR_header(f)
    return _recorded(call)


def assert_same_image_defs(ours, theirs):
    assert ours.dtype.names == theirs.dtype.names
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape
    for name in theirs.dtype.names:
        assert_same_array(ours[name], theirs[name])


@pytest.mark.parametrize('name', PARS)
def test_parse_PAR_header_as_nibabel(name):  # noqa: N802 - nibabel's name
    path = os.path.join(NIBABEL_DATA, name)
    (status_b, theirs), warned_b = _parse(nib_parrec, path)
    for mode in ('r', 'rb'):  # neurovox reads text and binary file objects alike
        (status_a, ours), warned_a = _parse(nv, path, mode)
        assert status_a == status_b == 'ok', (ours, theirs)
        assert_same_warnings(warned_a, warned_b)
        info_a, defs_a = ours
        info_b, defs_b = theirs
        assert list(info_a) == list(info_b)
        for key, value in info_b.items():
            if isinstance(value, np.ndarray):
                assert_same_array(info_a[key], value)
            else:
                assert info_a[key] == value, (key, info_a[key], value)
                assert type(info_a[key]) is type(value), (key, type(info_a[key]), type(value))
        assert_same_image_defs(defs_a, defs_b)


@pytest.mark.parametrize('permit_truncated, strict_sort', FLAGS, ids=FLAG_IDS)
@pytest.mark.parametrize('name', PARS)
def test_headers_as_nibabel(name, permit_truncated, strict_sort):
    path = os.path.join(NIBABEL_DATA, name)
    ((status_a, ours), warned_a), ((status_b, theirs), warned_b) = _headers(
        path, permit_truncated, strict_sort)
    assert_same_warnings(warned_a, warned_b)
    if status_b == 'error':
        assert isinstance(theirs, nib_parrec.PARRECError)
        assert status_a == 'error', 'nibabel raises: ' + str(theirs)
        assert isinstance(ours, nv.parrec.PARRECError), repr(ours)
        assert_says_the_same(ours, theirs)
        return
    assert status_a == 'ok', repr(ours)
    assert_same_header(ours, theirs)
    with warnings.catch_warnings():  # nibabel's copy warns again (test below)
        warnings.simplefilter('ignore', UserWarning)
        copy = ours.copy()
        from_header = type(ours).from_header(ours)
    assert copy is not ours and copy.image_defs is not ours.image_defs
    assert copy.general_info is not ours.general_info
    assert_same_header(copy, theirs)
    # from_header copies a PAR header and refuses any other, as nibabel's does.
    assert type(from_header).__name__ == 'PARRECHeader'
    for other in (None, nv.Nifti1Header()):
        with pytest.raises(nv.parrec.PARRECError):
            nv.parrec.PARRECHeader.from_header(other)


@pytest.mark.parametrize('name', ['T1.PAR', 'phantom_EPI_asc_CLEAR_2_1.PAR'])
def test_get_best_affine_is_nibabels(name):
    path = os.path.join(NIBABEL_DATA, name)
    with open(path) as f:
        ours = nv.parrec.PARRECHeader.from_fileobj(f)
    with open(path) as f:
        theirs = nib_parrec.PARRECHeader.from_fileobj(f)
    np.testing.assert_allclose(ours.get_base_affine(), theirs.get_base_affine(), rtol=1e-12)
    np.testing.assert_allclose(ours.get_best_affine(), theirs.get_best_affine(), rtol=1e-12,
                               atol=1e-12)


def test_copying_a_truncated_header_warns_again_as_in_nibabel():
    path = os.path.join(NIBABEL_DATA, 'phantom_truncated.PAR')
    with open(path) as f, pytest.warns(UserWarning, match='Header inconsistency'):
        theirs = nib_parrec.PARRECHeader.from_fileobj(f, True)
    with pytest.warns(UserWarning, match='Header inconsistency'):
        theirs.copy()
    with open(path) as f, pytest.warns(UserWarning, match='Header inconsistency'):
        ours = nv.parrec.PARRECHeader.from_fileobj(f, True)
    with pytest.warns(UserWarning, match='Header inconsistency'):
        ours.copy()


def test_files_nibabel_refuses_are_refused_with_its_message(tmp_path):
    """nibabel reads NA.PAR's header but no affine (its slice orientation varies), and
    ADC_Map.PAR and phantom_truncated.PAR only with permit_truncated. (Copies with a .REC of
    the right size: nibabel looks for the .REC before it reads the header.)"""
    for name, kwargs, message in [
            ('NA.PAR', {}, 'Varying slice orientation'),
            ('NA.PAR', {'permit_truncated': True}, 'Varying slice orientation'),
            ('ADC_Map.PAR', {}, 'Found 1 diffusion b value values, but expected 3'),
            ('phantom_truncated.PAR', {}, 'Found 3 dynamic scan values, but expected 4')]:
        path = str(tmp_path / name)
        shutil.copy(os.path.join(NIBABEL_DATA, name), path)
        with open(path) as f, warnings.catch_warnings():
            warnings.simplefilter('ignore', UserWarning)
            rec_shape = nib_parrec.PARRECHeader.from_fileobj(f, True).get_rec_shape()
        with open(path[:-4] + '.REC', 'wb') as f:
            f.write(b'\0' * (2 * int(np.prod(rec_shape))))
        with pytest.raises(nib_parrec.PARRECError, match=message):
            nibabel.load(path, **kwargs)
        for load in (nv.load, nv.parrec.load, nv.PARRECImage.from_filename):
            with pytest.raises(nv.parrec.PARRECError, match=message):
                load(path, **kwargs)
    assert issubclass(nv.parrec.PARRECError, nv.ImageFileError)


def test_truncated_and_strict_sorted_keeps_the_complete_volumes():
    """A recording whose last volume lacks a slice, sorted strictly: nibabel sorts the partial
    volume first and keeps it, dropping the last complete one (a nibabel bug); neurovox keeps
    the complete volumes, so its header equals nibabel's lax (strict_sort=False) header —
    a deliberate difference (docs/compat.md, "PAR/REC")."""
    with open(EG_PAR) as f:
        info, defs = nib_parrec.parse_PAR_header(f)
    with pytest.warns(UserWarning, match='partial volume'):
        theirs_strict = nib_parrec.PARRECHeader(info, defs[:-1], permit_truncated=True,
                                                strict_sort=True)
    with pytest.warns(UserWarning, match='partial volume'):
        theirs_lax = nib_parrec.PARRECHeader(info, defs[:-1], permit_truncated=True)
    # nibabel's bug, which this test is about: its first strict-sorted volume is the partial one.
    assert theirs_strict.get_sorted_slice_indices()[0] == 18
    with pytest.warns(UserWarning, match='partial volume'):
        ours = nv.parrec.PARRECHeader(info, defs[:-1], permit_truncated=True, strict_sort=True)
    assert ours.strict_sort
    for name, *args in HEADER_METHODS:
        if name == 'get_volume_labels':
            continue
        close = name in ('get_affine', 'get_best_affine', 'get_data_scaling')
        assert_same_value(getattr(ours, name)(*args), getattr(theirs_lax, name)(*args),
                          (name, *args), close=close)
    assert_same_value(ours.get_volume_labels(), theirs_lax.get_volume_labels(), 'labels')
    assert len(theirs_strict.get_volume_labels()['dynamic scan number']) == 3  # nibabel's
    # The data of the complete volumes, as nibabel's lax proxy reads them.
    assert_same_array(np.asarray(nv.parrec.PARRECArrayProxy(EG_REC, ours)),
                      np.asarray(nib_parrec.PARRECArrayProxy(EG_REC, theirs_lax)))


@pytest.mark.parametrize('lib', ['nibabel', 'neurovox'])
def test_strict_sort_survives_shuffled_image_defs(lib):
    """nibabel's test_diffusion_parameters_strict_sort: the header reads ``image_defs`` at each
    call, so shuffling them in place changes nothing a strict sort gives."""
    module = nib_parrec if lib == 'nibabel' else nv.parrec
    path = os.path.join(NIBABEL_DATA, 'DTI.PAR')
    with open(path) as f:
        hdr = module.PARRECHeader.from_fileobj(f, strict_sort=True)
    with open(path) as f:
        theirs = nib_parrec.PARRECHeader.from_fileobj(f, strict_sort=True)
    want_bvals, want_bvecs = theirs.get_bvals_bvecs()
    np.random.default_rng(7).shuffle(hdr.image_defs)
    assert hdr.get_data_shape() == (80, 80, 10, 8)
    bvals, bvecs = hdr.get_bvals_bvecs()
    np.testing.assert_allclose(bvals, want_bvals, rtol=1e-12)
    np.testing.assert_allclose(bvecs, want_bvecs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hdr.get_q_vectors(), theirs.get_q_vectors(), rtol=1e-12,
                               atol=1e-12)
    assert list(hdr.get_volume_labels()) == list(theirs.get_volume_labels())
    for key, values in theirs.get_volume_labels().items():
        np.testing.assert_array_equal(hdr.get_volume_labels()[key], values)
    # The same shuffle in nibabel's header gives the same sorted slices.
    theirs_shuffled = theirs.copy()
    theirs_shuffled.image_defs[:] = hdr.image_defs
    np.testing.assert_array_equal(hdr.get_sorted_slice_indices(),
                                  theirs_shuffled.get_sorted_slice_indices())


def test_changes_to_general_info_and_image_defs_count():
    with open(EG_PAR) as f:
        ours = nv.parrec.PARRECHeader.from_fileobj(f)
    with open(EG_PAR) as f:
        theirs = nib_parrec.PARRECHeader.from_fileobj(f)
    for hdr in (ours, theirs):
        hdr.general_info['angulation'] = np.array([10.0, -5.0, 3.0])
        hdr.general_info['off_center'] = np.array([1.0, 2.0, -3.0])
        hdr.image_defs['rescale slope'][::2] = 2.5
    np.testing.assert_allclose(ours.get_affine(), theirs.get_affine(), rtol=1e-12, atol=1e-12)
    for method in ('dv', 'fp'):
        for a, b in zip(ours.get_data_scaling(method), theirs.get_data_scaling(method)):
            np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize('name', [n for n in PARS if n != 'NA.PAR'])
def test_vol_numbers_and_vol_is_full_as_nibabel(name):
    with open(os.path.join(NIBABEL_DATA, name)) as f:
        info, defs = nib_parrec.parse_PAR_header(f)
    slice_nos = defs['slice number']
    assert nv.parrec.vol_numbers(slice_nos) == nib_parrec.vol_numbers(slice_nos)
    assert_same_array(nv.parrec.vol_is_full(slice_nos, info['max_slices']),
                      nib_parrec.vol_is_full(slice_nos, info['max_slices']))
    assert_same_array(nv.parrec.vol_is_full(slice_nos[:-1], info['max_slices']),
                      nib_parrec.vol_is_full(slice_nos[:-1], info['max_slices']))
    for bad in (info['max_slices'] - 1, 0):
        if bad < max(slice_nos):
            with pytest.raises(ValueError):
                nib_parrec.vol_is_full(slice_nos, bad)
            with pytest.raises(ValueError):
                nv.parrec.vol_is_full(slice_nos, bad)


def test_module_constants_and_exts2pars():
    assert nv.parrec.supported_versions == nib_parrec.supported_versions
    assert list(nv.parrec.image_def_dtds) == list(nib_parrec.image_def_dtds)
    for version, fields in nib_parrec.image_def_dtds.items():
        assert np.dtype(nv.parrec.image_def_dtds[version]) == np.dtype(fields), version
    for name in ('PSL_TO_RAS', 'DEG2RAD'):
        np.testing.assert_array_equal(getattr(nv.parrec, name), getattr(nib_parrec, name))
    assert list(nv.parrec.ACQ_TO_PSL) == list(nib_parrec.ACQ_TO_PSL)
    for key, value in nib_parrec.ACQ_TO_PSL.items():
        np.testing.assert_array_equal(nv.parrec.ACQ_TO_PSL[key], value)
    assert nv.parrec.one_line(' a\n  b \nc') == nib_parrec.one_line(' a\n  b \nc')
    # PAR headers kept in NIfTI extensions (nibabel's test_exts2par).
    img = nv.Nifti1Image(np.zeros((2, 2, 2), np.int16), np.eye(4))
    assert nv.parrec.exts2pars(img) == []
    with open(EG_PAR, 'rb') as f:
        dump = f.read()
    img.header.extensions.append(nv.Nifti1Extension(6, dump))  # 6: 'comment'
    img.header.extensions.append(nv.Nifti1Extension(6, dump))
    img.header.extensions.append(nv.Nifti1Extension(6, b''))
    for source in (img, img.header, img.header.extensions, list(img.header.extensions)):
        headers = nv.parrec.exts2pars(source)
        assert len(headers) == 2
        assert all(type(h).__name__ == 'PARRECHeader' for h in headers)
        assert headers[1].get_slice_orientation() == 'transverse'
        assert headers[0].get_data_shape() == (64, 64, 9, 3)


def test_extension_codes_by_name_as_in_nibabels_exts2par_test():
    with open(EG_PAR, 'rb') as f:
        dump = f.read()
    extension = nv.Nifti1Extension('comment', dump)
    assert extension.get_code() == nibabel.nifti1.Nifti1Extension('comment', dump).get_code()
    assert len(nv.parrec.exts2pars([extension])) == 1


# --- recordings with a .REC ------------------------------------------------------------------


def _random_keys(shape, seed, n=20):
    """Keys of ints (negative too), slices (negative steps too), Ellipsis and None; no fancy
    indexing."""
    rng = np.random.default_rng(seed)
    keys = []
    for _ in range(n):
        key = []
        for dim in shape:
            kind = rng.integers(4)
            if kind == 0:
                key.append(int(rng.integers(-dim, dim)))
            elif kind == 1:
                key.append(slice(None))
            else:
                ends = [None if rng.random() < 0.3 else int(rng.integers(-dim - 2, dim + 2))
                        for _ in range(2)]
                key.append(slice(*ends, int(rng.choice([1, 2, 3, -1, -2, -5]))))
        start = int(rng.integers(0, len(key) + 1))
        stop = int(rng.integers(start, len(key) + 1))
        if rng.random() < 0.4:  # a run of axes as an Ellipsis
            key[start:stop] = [Ellipsis]
        else:  # or the trailing axes left out
            del key[stop:]
        if rng.random() < 0.4:
            key.insert(int(rng.integers(0, len(key) + 1)), None)
        keys.append(tuple(key))
    return keys


def _load_both(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # a truncated recording's warning
        return nv.load(path, **kwargs), nibabel.load(path, **kwargs)


def assert_same_recording(ours, theirs, keys=KEYS):
    assert type(ours).__name__ == 'PARRECImage'
    assert ours.in_memory is False
    assert ours.shape == theirs.shape
    assert ours.get_data_dtype() == theirs.get_data_dtype()
    np.testing.assert_allclose(ours.affine, theirs.affine, rtol=1e-12, atol=1e-12)
    assert ours.header.get_zooms() == theirs.header.get_zooms()
    assert ours.dataobj.shape == theirs.dataobj.shape
    assert ours.dataobj.ndim == theirs.dataobj.ndim
    assert ours.dataobj.dtype == theirs.dataobj.dtype
    assert ours.dataobj.is_proxy and nv.is_proxy(ours.dataobj)
    assert_same_array(ours.dataobj.get_unscaled(), theirs.dataobj.get_unscaled())
    with warnings.catch_warnings():  # nibabel's __array__ takes no `copy` (numpy 2 warns)
        warnings.simplefilter('ignore', DeprecationWarning)
        assert_same_array(np.asarray(ours.dataobj), np.asarray(theirs.dataobj))
        assert_same_array(np.asarray(ours.dataobj, dtype=np.float32),
                          np.asarray(theirs.dataobj, dtype=np.float32))
    assert_same_array(ours.get_fdata(), theirs.get_fdata())
    assert_same_array(ours.get_fdata(dtype=np.float32), theirs.get_fdata(dtype=np.float32))
    for key in keys:
        assert_same_array(ours.dataobj[key], _nibabel_slice(theirs.dataobj, key))


def _nibabel_slice(proxy, key):
    """nibabel's ``proxy[key]``; where nibabel's ``fileslice`` misreads a slice whose ends
    are out of range (it raises, or reads another shape than numpy), numpy's slice of
    nibabel's whole array."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        whole = np.asarray(proxy)[key]
    try:
        sliced = proxy[key]
    except (ValueError, OSError):
        return whole
    if sliced.shape != whole.shape or not np.array_equal(sliced, whole):
        return whole
    return sliced


def _rec_cases():
    for stem, truncated in RECORDINGS:
        for scaling in ('dv', 'fp'):
            for strict_sort in (False, True):
                yield pytest.param(stem, truncated, scaling, strict_sort,
                                   id=f'{stem}-{scaling}-{"strict" if strict_sort else "lax"}')


@pytest.mark.parametrize('stem, truncated, scaling, strict_sort', list(_rec_cases()))
def test_recordings_read_as_nibabel_reads_them(stem, truncated, scaling, strict_sort):
    kwargs = dict(scaling=scaling, strict_sort=strict_sort)
    if truncated:
        kwargs['permit_truncated'] = True
    theirs = None
    for ext in ('.PAR', '.REC'):
        path = os.path.join(NIBABEL_DATA, stem + ext)
        (status_a, ours), warned_a = _recorded(lambda: nv.load(path, **kwargs))
        (status_b, theirs), warned_b = _recorded(lambda: nibabel.load(path, **kwargs))
        assert status_a == status_b == 'ok', (ours, theirs)
        # The same warnings (nibabel gives its one twice: it makes the header twice).
        assert {str(w.message) for w in warned_a} == {str(w.message) for w in warned_b}
        assert all(issubclass(w.category, UserWarning) for w in warned_a)
        assert bool(warned_a) == truncated
        keys = KEYS + _random_keys(theirs.shape, seed=len(stem) + len(ext))
        assert_same_recording(ours, theirs, keys)
        assert {k: os.path.basename(v.filename) for k, v in ours.file_map.items()} == {
            k: os.path.basename(v.filename) for k, v in theirs.file_map.items()}
        assert ours.get_filename() is not None
        assert os.path.basename(ours.get_filename()) == os.path.basename(
            theirs.get_filename())
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        for load in (nv.parrec.load, nv.PARRECImage.from_filename, nv.PARRECImage.load):
            assert_same_recording(load(os.path.join(NIBABEL_DATA, stem + '.PAR'), **kwargs),
                                  theirs)
    # The proxy made directly, over the file name and over an open file.
    rec = os.path.join(NIBABEL_DATA, stem + '.REC')
    for source in (rec, open(rec, 'rb')):
        proxy = nv.parrec.PARRECArrayProxy(source, ours.header, scaling=scaling)
        want = nib_parrec.PARRECArrayProxy(rec, theirs.header, scaling=scaling)
        assert proxy.shape == want.shape and proxy.dtype == want.dtype
        assert_same_array(proxy.get_unscaled(), want.get_unscaled())
        for key in KEYS:
            assert_same_array(proxy[key], _nibabel_slice(want, key))
        if not isinstance(source, str):
            source.close()


def test_load_keywords_are_keyword_only():
    """permit_truncated, scaling and strict_sort are keyword only, as in nibabel."""
    with pytest.raises(TypeError):
        nv.parrec.load(EG_PAR, False)
    with pytest.raises(ValueError):
        nv.parrec.load(EG_PAR, scaling='xx')
    with pytest.raises(ValueError):
        nv.parrec.PARRECArrayProxy(EG_REC, nv.load(EG_PAR).header, scaling='xx')
    with pytest.raises(TypeError):
        nv.parrec.PARRECArrayProxy(EG_REC, nv.load(EG_PAR).header, 'dv')


@pytest.mark.parametrize('stem, truncated', RECORDINGS, ids=[s for s, _ in RECORDINGS])
def test_file_maps_and_lower_case_names(tmp_path, stem, truncated):
    kwargs = dict(permit_truncated=True) if truncated else {}
    par = os.path.join(NIBABEL_DATA, stem + '.PAR')
    rec = os.path.join(NIBABEL_DATA, stem + '.REC')
    ours, theirs = _load_both(par, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        # File objects in a file map.
        with open(par, 'rb') as h, open(rec, 'rb') as r:
            fm = {'header': nv.FileHolder(fileobj=h), 'image': nv.FileHolder(fileobj=r)}
            from_objects = nv.PARRECImage.from_file_map(fm, **kwargs)
            assert_same_recording(from_objects, theirs)
        # File names in a file map.
        fm = {'header': nv.FileHolder(filename=par), 'image': nv.FileHolder(filename=rec)}
        assert_same_recording(nv.PARRECImage.from_file_map(fm, **kwargs), theirs)
        # Lower-case names: both files found from either.
        lower = tmp_path / 'lower'
        lower.mkdir()
        shutil.copy(par, lower / 'rec.par')
        shutil.copy(rec, lower / 'rec.rec')
        for name in ('rec.par', 'rec.rec'):
            mine, want = _load_both(str(lower / name), **kwargs)
            assert_same_recording(mine, want)
            assert_same_array(mine.get_fdata(), theirs.get_fdata())
            assert os.path.basename(mine.file_map['image'].filename) == 'rec.rec'
            assert os.path.basename(mine.file_map['header'].filename) == 'rec.par'


def test_the_other_file_has_the_case_of_the_one_named(tmp_path):
    """As in nibabel: x.PAR pairs with x.REC and x.par with x.rec, not across cases."""
    for par, rec in (('a.PAR', 'a.rec'), ('b.par', 'b.REC')):
        shutil.copy(os.path.join(NIBABEL_DATA, 'phantom_varscale.PAR'), tmp_path / par)
        shutil.copy(os.path.join(NIBABEL_DATA, 'phantom_varscale.REC'), tmp_path / rec)
        for name, missing in ((par, rec[:2] + rec[2:].swapcase()),
                              (rec, par[:2] + par[2:].swapcase())):
            path = str(tmp_path / name)
            with pytest.raises(FileNotFoundError, match=re.escape(missing)):
                nibabel.load(path).get_fdata()
            with pytest.raises(FileNotFoundError, match=re.escape(missing)):
                nv.load(path).get_fdata()


def _pickle_cases():
    yield pytest.param('phantom_varscale', {}, id='default')
    yield pytest.param('phantom_varscale', dict(scaling='fp'), id='fp')
    yield pytest.param('phantom_varscale', dict(strict_sort=True), id='strict')
    yield pytest.param('phantom_truncated', dict(permit_truncated=True), id='truncated')


@pytest.mark.filterwarnings('ignore::UserWarning')
@pytest.mark.parametrize('stem, kwargs', list(_pickle_cases()))
def test_pickles_keep_the_load_keywords(stem, kwargs):
    """Loaded images, their proxies and headers pickle (nibabel's PARRECImage does not: its
    pickle fails on an open file) and come back with the same data and keywords."""
    par = os.path.join(NIBABEL_DATA, stem + '.PAR')
    ours, theirs = _load_both(par, **kwargs)
    proxy = pickle.loads(pickle.dumps(ours.dataobj))
    assert_same_array(np.asarray(proxy), np.asarray(theirs.dataobj))
    assert_same_array(proxy[..., 1], _nibabel_slice(theirs.dataobj, (Ellipsis, 1)))
    assert_same_array(proxy.get_unscaled(), theirs.dataobj.get_unscaled())
    header = pickle.loads(pickle.dumps(ours.header))
    assert_same_header(header, theirs.header)
    back = pickle.loads(pickle.dumps(ours))
    assert type(back).__name__ == 'PARRECImage'
    np.testing.assert_array_equal(back.affine, ours.affine)
    assert back.header.permit_truncated == theirs.header.permit_truncated
    assert back.header.strict_sort == theirs.header.strict_sort
    assert_same_array(back.get_fdata(), theirs.get_fdata())
    assert_same_array(np.asarray(back.dataobj), np.asarray(theirs.dataobj))


@pytest.mark.parametrize('stem, truncated', RECORDINGS, ids=[s for s, _ in RECORDINGS])
def test_saves_as_nifti_as_nibabel_does(tmp_path, stem, truncated):
    kwargs = dict(permit_truncated=True) if truncated else {}
    par = os.path.join(NIBABEL_DATA, stem + '.PAR')
    ours, theirs = _load_both(par, **kwargs)
    with pytest.raises(NotImplementedError):
        ours.to_filename(str(tmp_path / 'copy.PAR'))
    for ext in ('.nii', '.nii.gz', '.img'):
        nv.save(ours, str(tmp_path / ('x' + ext)))
        nibabel.save(theirs, str(tmp_path / ('y' + ext)))
        a = nibabel.load(str(tmp_path / ('x' + ext)))
        b = nibabel.load(str(tmp_path / ('y' + ext)))
        assert type(a) is type(b)
        assert a.shape == b.shape
        assert a.get_data_dtype() == b.get_data_dtype()
        assert_same_array(a.get_fdata(), b.get_fdata())
        np.testing.assert_array_equal(a.affine, b.affine)
        # nibabel means to copy the .PAR's description (as_analyze_map's 'descr') but its key
        # misses NIfTI's 'descrip'; neurovox fills it (docs/compat.md, PAR/REC).
        assert b.header['descrip'] == b''
        assert a.header['descrip'] == ours.header.as_analyze_map()['descr'].encode()
        for field in ('pixdim', 'qform_code', 'sform_code', 'dim', 'datatype',
                      'scl_slope', 'scl_inter', 'srow_x', 'srow_y', 'srow_z'):
            np.testing.assert_array_equal(a.header[field], b.header[field], err_msg=field)
        for field in ('quatern_b', 'quatern_c', 'quatern_d', 'qoffset_x', 'qoffset_y',
                      'qoffset_z'):  # nibabel's quaternion has rounding noise (1e-16)
            np.testing.assert_allclose(a.header[field], b.header[field], atol=1e-6,
                                       err_msg=field)


@pytest.mark.parametrize('stem, truncated', RECORDINGS[:1], ids=[RECORDINGS[0][0]])
def test_conversions_keep_the_units_as_nibabel_does(tmp_path, stem, truncated):
    par = os.path.join(NIBABEL_DATA, stem + '.PAR')
    ours, theirs = _load_both(par)
    assert ours.header.as_analyze_map() == theirs.header.as_analyze_map()
    units = {}
    for lib, img in (('ours', ours), ('theirs', theirs)):
        save = nv.save if lib == 'ours' else nibabel.save
        save(img, str(tmp_path / (lib + '.nii')))
        units[lib] = int(nibabel.load(str(tmp_path / (lib + '.nii'))).header['xyzt_units'])
    assert units['theirs'] == 10
    assert nibabel.Nifti1Image.from_image(theirs).header['xyzt_units'] == 10
    assert nv.Nifti1Image.from_image(ours).header['xyzt_units'] == 10
    assert units['ours'] == units['theirs']


def _par_lines(path):
    with open(path) as f:
        text = f.read()
    lines = text.splitlines(keepends=True)
    image = [k for k, line in enumerate(lines)
             if line.strip() and not line.lstrip().startswith(('#', '.'))]
    return lines, image


def _write_pair(directory, stem, par_lines, rec_bytes):
    par = os.path.join(directory, stem + '.PAR')
    with open(par, 'w') as f:
        f.write(''.join(par_lines))
    with open(os.path.join(directory, stem + '.REC'), 'wb') as f:
        f.write(rec_bytes)
    return par


@pytest.mark.parametrize('strict_sort', [False, True], ids=['lax', 'strict'])
@pytest.mark.parametrize('stem', ['phantom_EPI_asc_CLEAR_2_1', 'phantom_varscale'])
def test_image_lines_in_another_order(tmp_path, stem, strict_sort):
    """Image lines out of the .REC's slice order: nibabel takes the n-th image line as the
    n-th .REC slice and sorts by slice number (and volume)."""
    par = os.path.join(NIBABEL_DATA, stem + '.PAR')
    with open(os.path.join(NIBABEL_DATA, stem + '.REC'), 'rb') as f:
        rec = f.read()
    lines, image = _par_lines(par)
    first, last = image[0], image[-1]
    rng = np.random.default_rng(3)
    orders = {'reversed': np.arange(len(image))[::-1], 'shuffled': rng.permutation(len(image))}
    original, _ = _load_both(par, strict_sort=strict_sort)
    slice_bytes = len(rec) // len(image)
    for label, order in orders.items():
        picked = [lines[image[k]] for k in order]
        new = lines[:first] + picked + lines[last + 1:]
        # The .REC as it is: whatever nibabel makes of the lines, neurovox makes too.
        path = _write_pair(tmp_path, f'{label}_same_rec', new, rec)
        ours, theirs = _load_both(path, strict_sort=strict_sort)
        assert_same_recording(ours, theirs, KEYS + _random_keys(theirs.shape, seed=5))
        # The .REC's slices moved with their lines: the recording is the original one.
        moved = b''.join(rec[k * slice_bytes:(k + 1) * slice_bytes] for k in order)
        path = _write_pair(tmp_path, f'{label}_moved_rec', new, moved)
        ours, theirs = _load_both(path, strict_sort=strict_sort)
        assert_same_recording(ours, theirs, KEYS + _random_keys(theirs.shape, seed=6))
        if not strict_sort:
            # lax sorting keeps volumes in .PAR order: only the reversed order keeps them.
            continue
        assert_same_array(ours.get_fdata(), original.get_fdata())


# --- hostile input ---------------------------------------------------------------------------


def _damaged(tmp_path, damage, rec=None, name='bad'):
    lines, image = _par_lines(EG_PAR)
    lines = damage(lines, image)
    if rec is None:
        with open(EG_REC, 'rb') as f:
            rec = f.read()
    return _write_pair(tmp_path, name, lines, rec)


def _set_column(column, value):
    def damage(lines, image):
        lines = list(lines)
        for k in image:
            fields = lines[k].split()
            fields[column] = value
            lines[k] = '  ' + ' '.join(fields) + '\n'
        return lines
    return damage


def _cut_last_image_line(lines, image):
    last = lines[image[-1]]
    return lines[:image[-1]] + [last[:len(last) // 2]]


def _version(text):
    def damage(lines, image):
        return [line.replace('V4.2', text) if 'Research image export tool' in line else line
                for line in lines]
    return damage


HOSTILE_PARS = {
    'cut-in-an-image-line': (_cut_last_image_line, None),
    'bad-number': (lambda lines, image: [line.replace('1.29035', '1.2x035', 1)
                                         if k == image[4] else line
                                         for k, line in enumerate(lines)], None),
    'too-few-columns': (lambda lines, image: [line.rsplit(None, 5)[0] + '\n'
                                              if k == image[2] else line
                                              for k, line in enumerate(lines)], None),
    'unsupported-version': (_version('V3'), 'version'),
    'missing-version': (lambda lines, image: [line for line in lines
                                              if 'Research image export tool' not in line],
                        'version'),
    '32-bit-pixels': (_set_column(7, '32'), 'pixel size'),
    '24-bit-pixels': (_set_column(7, '24'), 'pixel size'),
    'varying-recon-resolution': (lambda lines, image: [
        line.replace('  64   64 ', '  64   32 ', 1) if k == image[5] else line
        for k, line in enumerate(lines)], None),
    'no-image-lines': (lambda lines, image: [line for k, line in enumerate(lines)
                                             if k not in image], None),
    'binary-garbage': (lambda lines, image: lines[:image[0]] + ['\x00\xff\x01 garbage\n']
                       + lines[image[0]:], None),
}


@pytest.mark.parametrize('case', list(HOSTILE_PARS))
def test_damaged_pars_are_clear_errors(tmp_path, case):
    damage, words = HOSTILE_PARS[case]
    path = _damaged(tmp_path, damage)
    with pytest.raises(nv.parrec.PARRECError) as info:
        nv.load(path).get_fdata()
    message = str(info.value)
    assert message
    if words is not None:
        assert words in message.lower(), message
    with open(path) as f, pytest.raises(nv.parrec.PARRECError):
        nv.parrec.PARRECHeader.from_fileobj(f).get_affine()
    # nibabel refuses these too (any exception).
    with pytest.raises(Exception):  # noqa: B017 - nibabel's errors vary by case
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            nibabel.load(path).get_fdata()


def test_a_rec_shorter_than_the_par_says_is_a_limit_error_at_load(tmp_path):
    with open(EG_REC, 'rb') as f:
        rec = f.read()
    path = _damaged(tmp_path, lambda lines, image: lines, rec=rec[:len(rec) // 2], name='short')
    with pytest.raises(nv.ImageLimitError, match='short'):
        nv.load(path)
    path = _damaged(tmp_path, lambda lines, image: lines, rec=b'', name='empty')
    with pytest.raises(nv.ImageLimitError, match='empty'):
        nv.load(path)
    # A REC missing only its last byte.
    path = _damaged(tmp_path, lambda lines, image: lines, rec=rec[:-1], name='byte')
    with pytest.raises(nv.ImageLimitError):
        nv.load(path)
    # A missing REC names the file.
    os.remove(os.path.join(tmp_path, 'byte.REC'))
    with pytest.raises((FileNotFoundError, nv.ImageFileError), match='byte'):
        nv.load(path).get_fdata()


def test_an_absurd_recon_resolution_is_a_limit_error_not_an_allocation(tmp_path):
    def huge(lines, image):
        return [line.replace('  64   64 ', '  100000   100000 ', 1) if k in image else line
                for k, line in enumerate(lines)]
    path = _damaged(tmp_path, huge, rec=b'\0' * 4096, name='huge')
    with pytest.raises(nv.ImageLimitError, match='huge'):
        nv.load(path)
    with open(path) as f:
        header = nv.parrec.PARRECHeader.from_fileobj(f)
    assert header.get_data_shape()[:2] == (100000, 100000)
    # A proxy made directly checks nothing until it reads (as nibabel's); the read is refused
    # before anything the size of the header's array is allocated.
    proxy = nv.parrec.PARRECArrayProxy(path[:-4] + '.REC', header)
    assert proxy.shape == (100000, 100000, 9, 3)
    for key in ((), (0, 0, 0), (Ellipsis, 0)):
        with pytest.raises(nv.ImageFileError, match='huge'):
            np.asarray(proxy[key])


@pytest.mark.parametrize('values', ['0 0', '-64 64', '64 -1', '99999999999 1'])
def test_zero_negative_and_overflowing_sizes_are_clear_errors(tmp_path, values):
    def bad(lines, image):
        return [line.replace('  64   64 ', f'  {values} ', 1) if k in image else line
                for k, line in enumerate(lines)]
    path = _damaged(tmp_path, bad, rec=b'\0' * 4096, name='size')
    with pytest.raises((nv.ImageLimitError, nv.parrec.PARRECError, nv.HeaderDataError)):
        nv.load(path).get_fdata()
