"""Images loaded from URLs (issue 18), against a real HTTP server on loopback with Range
support that counts what it serves; values compared with nibabel reading the same bytes from
a local file."""

import contextlib
import http.server
import os
import pickle
import re
import subprocess
import sysconfig
import threading

import nibabel
import numpy as np
import pytest

import neurovox as nv


class _Objects:
    """The served objects and what was asked of them."""

    def __init__(self):
        self.objects = {}
        self.log = []
        self.lock = threading.Lock()

    def served(self):
        with self.lock:
            return len(self.log), sum(n for _, _, n in self.log)


def _handler(objects):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *args):
            pass

        def do_GET(self):
            name = self.path.lstrip('/')
            if name.startswith('forbidden/'):
                return self._answer(403, b'forbidden', {})
            body = objects.objects.get(name)
            if body is None:
                return self._answer(404, b'not found', {})
            headers = {'ETag': f'"{len(body)}-{hash(body) & 0xffff}"', 'Accept-Ranges': 'bytes'}
            wanted = self.headers.get('Range')
            if wanted is None:
                return self._answer(200, body, headers)
            first, last = wanted.removeprefix('bytes=').split('-')
            if not first:  # a suffix range: the last N bytes
                first, last = max(len(body) - int(last), 0), len(body) - 1
            first = int(first)
            last = min(int(last) if last != '' else len(body) - 1, len(body) - 1)
            if first >= len(body):
                headers['Content-Range'] = f'bytes */{len(body)}'
                return self._answer(416, b'', headers)
            headers['Content-Range'] = f'bytes {first}-{last}/{len(body)}'
            return self._answer(206, body[first:last + 1], headers)

        def _answer(self, status, body, headers):
            with objects.lock:
                objects.log.append((self.command, self.path, len(body)))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class _Server(http.server.ThreadingHTTPServer):
    # The default backlog of 5 drops connections when a reader opens eight at once; each
    # dropped one waits out TCP's 1 s SYN retry.
    request_queue_size = 128


@contextlib.contextmanager
def _serving(objects):
    """The server of ``objects`` on loopback while the block runs; ``objects.url`` its URL."""
    httpd = _Server(('127.0.0.1', 0), _handler(objects))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    objects.url = f'http://127.0.0.1:{httpd.server_address[1]}'
    try:
        yield objects
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextlib.contextmanager
def _endpoint(answer):
    """A loopback stand-in for a credentials service while the block runs: each request is
    answered ``answer(method, path, headers) -> (status, body bytes)`` and recorded as
    ``(method, path, headers)`` in the list yielded with the endpoint's origin."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self):
            seen.append((self.command, self.path, self.headers))
            status, body = answer(self.command, self.path, self.headers)
            self.send_response(status)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = _reply

        def log_message(self, *args):
            pass

    httpd = _Server(('127.0.0.1', 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f'http://127.0.0.1:{httpd.server_port}', seen
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture()
def server():
    with _serving(_Objects()) as objects:
        yield objects


def _bold(tmp_path, name):
    rng = np.random.default_rng(18)
    data = np.zeros((40, 40, 20, 12), dtype=np.int16)
    data[8:32, 8:32, 2:18] = rng.integers(-300, 1700, size=(24, 24, 16, 12))
    img = nibabel.Nifti1Image(data, np.diag([2.0, 2.0, 2.5, 1.0]))
    img.header.set_slope_inter(0.5, 10.0)
    path = tmp_path / name
    nibabel.save(img, path)
    return path


@pytest.mark.parametrize('name', ['bold.nii', 'bold.nii.gz'])
def test_a_url_reads_what_nibabel_reads_from_the_file(tmp_path, server, name):
    path = _bold(tmp_path, name)
    server.objects[name] = path.read_bytes()
    img = nv.load(f'{server.url}/{name}')
    requests, served = server.served()
    assert requests <= 2 and served <= 64 * 1024, server.log
    ref = nibabel.load(path)
    assert isinstance(img, nv.Nifti1Image)
    assert img.shape == ref.shape
    np.testing.assert_array_equal(img.affine, ref.affine)
    np.testing.assert_array_equal(img.dataobj[..., 7], ref.dataobj[..., 7])
    np.testing.assert_array_equal(img.dataobj[20, :, 5], ref.dataobj[20, :, 5])
    np.testing.assert_array_equal(img.get_fdata(), ref.get_fdata())
    assert img.get_filename() is None


def test_an_s3_url_goes_to_the_endpoint_the_aws_variables_name(tmp_path, server, monkeypatch):
    path = _bold(tmp_path, 'bold.nii.gz')
    server.objects['openneuro.org/ds000001/sub-01/func/bold.nii.gz'] = path.read_bytes()
    monkeypatch.setenv('AWS_ENDPOINT_URL', server.url)
    img = nv.load('s3://openneuro.org/ds000001/sub-01/func/bold.nii.gz')
    np.testing.assert_array_equal(img.dataobj[..., 3], nibabel.load(path).dataobj[..., 3])


def test_url_names_are_told_from_paths_in_one_place(tmp_path):
    from pathlib import Path

    from neurovox._url import is_url
    for url in ('http://h/a.nii', 'HTTPS://h/a.nii.gz', 'S3://bucket/key.nii', 's3://b/k?x=1'):
        assert is_url(url), url
    for name in ('a.nii', 'file:///a.nii', 'ftp://h/a.nii', 'http:/a.nii', '', b'http://h/a',
                 Path('http://h/a.nii'), None):
        assert not is_url(name), name
    # A path that looks like a URL's tail stays a path for load (and fails as a path does).
    with pytest.raises(FileNotFoundError):
        nv.load(tmp_path / 'http:' / 'h' / 'a.nii')


def test_a_neurovox_nii_gz_at_a_url_costs_one_round_trip_to_load_and_each_byte_once_to_read(
        tmp_path, server):
    rng = np.random.default_rng(7)
    data = np.zeros((64, 64, 40, 40), dtype=np.int16)
    data[8:56, 8:56, 4:36] = rng.integers(-300, 1700, size=(48, 48, 32, 40))
    path = tmp_path / 'run.nii.gz'
    nv.save(nv.Nifti1Image(data, np.eye(4)), path)
    body = path.read_bytes()
    server.objects['run.nii.gz'] = body
    img = nv.load(f'{server.url}/run.nii.gz')
    # The first bytes and the last 16 KiB (trailer, member index), asked for at once.
    requests, served = server.served()
    assert requests == 2 and served <= 64 << 10, server.log
    # A full read on every thread: the read plan's announcements and the member batches
    # are fetched in the background, and no block is asked for twice.
    np.testing.assert_array_equal(np.asarray(img.dataobj), data)
    requests, served = server.served()
    assert served <= len(body) + (64 << 10), (served, len(body), server.log)
    assert requests <= 2 + 16, server.log


def test_missing_and_forbidden_urls_raise_what_files_raise(server):
    with pytest.raises(FileNotFoundError, match='nothing.nii.gz'):
        nv.load(f'{server.url}/nothing.nii.gz')
    server.objects['forbidden/a.nii'] = b'\0' * 400
    with pytest.raises(PermissionError, match='forbidden/a.nii'):
        nv.load(f'{server.url}/forbidden/a.nii')


_NIBABEL_DATA = os.path.join(os.path.dirname(nibabel.__file__), 'tests', 'data')

# nibabel's own test images of every format it reads (PAR/REC, AFNI, MINC1/2, ECAT7, MGH,
# NIfTI-1/2 single files and pairs, Analyze), loaded from a URL by neurovox and from the
# file by nibabel.
_NIBABEL_IMAGES = sorted(
    name for name in os.listdir(_NIBABEL_DATA)
    if name.lower().endswith(('.par', '.head', '.mnc', '.v', '.mgz', '.nii', '.nii.gz', '.hdr'))
)


@pytest.fixture(scope='module')
def nibabel_data_server():
    objects = _Objects()
    for name in os.listdir(_NIBABEL_DATA):
        full = os.path.join(_NIBABEL_DATA, name)
        if os.path.isfile(full):
            with open(full, 'rb') as f:
                objects.objects[name] = f.read()
    with _serving(objects):
        yield objects


@pytest.mark.parametrize('name', _NIBABEL_IMAGES)
def test_every_format_reads_from_a_url_as_from_its_file(nibabel_data_server, name):
    local = os.path.join(_NIBABEL_DATA, name)
    url = f'{nibabel_data_server.url}/{name}'
    try:
        ref = nv.load(local)
        ref_data = ref.get_fdata()
    except Exception as e:
        # What neurovox refuses from the file, it refuses from a URL, with the same error.
        with pytest.raises(type(e)):
            nv.load(url).get_fdata()
        return
    img = nv.load(url)
    assert type(img) is type(ref)
    assert img.shape == ref.shape
    np.testing.assert_array_equal(img.affine, ref.affine)
    assert img.dataobj.dtype == ref.dataobj.dtype
    # Every header byte (ECAT's header has no dtype to compare by ==, as in nibabel).
    assert img.header.binaryblock == ref.header.binaryblock
    data = img.get_fdata()
    np.testing.assert_array_equal(data, ref_data)
    assert img.get_filename() is None
    # The proxy names the URL of the object its data is in (the .REC, .BRIK, .img).
    assert str(img.dataobj.file_like).startswith(f'{nibabel_data_server.url}/')
    # And where nibabel reads the file as the same class, the values are nibabel's.
    try:
        oracle = nibabel.load(local)
        oracle_data = oracle.get_fdata()
    except Exception:
        return
    if type(oracle).__name__ == type(img).__name__:
        np.testing.assert_allclose(data, oracle_data, rtol=1e-6, equal_nan=True)


def test_a_remote_proxy_pickles_as_its_url_and_refuses_a_replaced_object(tmp_path, server):
    path = _bold(tmp_path, 'bold.nii.gz')
    server.objects['bold.nii.gz'] = path.read_bytes()
    url = f'{server.url}/bold.nii.gz'
    img = nv.load(url)
    assert img.dataobj.file_like == url
    payload = pickle.dumps(img.dataobj)
    assert len(payload) < 2000 and url.encode() in payload
    ref = nibabel.load(path).dataobj[..., 5]
    np.testing.assert_array_equal(pickle.loads(payload)[..., 5], ref)
    image_again = pickle.loads(pickle.dumps(img))
    np.testing.assert_array_equal(image_again.dataobj[..., 5], ref)
    server.objects['bold.nii.gz'] = _bold(tmp_path, 'other.nii').read_bytes()
    with pytest.raises(nv.StaleFileError, match='bold.nii.gz'):
        pickle.loads(payload)


def _neurovox_command(*args):
    script = os.path.join(sysconfig.get_path('scripts'), 'neurovox')
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=120)


def test_every_command_takes_a_url(tmp_path, server):
    path = _bold(tmp_path, 'bold.nii.gz')
    server.objects['bold.nii.gz'] = path.read_bytes()
    url = f'{server.url}/bold.nii.gz'
    ref = nibabel.load(path)

    info = _neurovox_command('info', url)
    assert info.returncode == 0, info.stderr
    assert url in info.stdout and re.search(r'\[\s*40,\s*40,\s*20,\s*12\]', info.stdout)

    stats = _neurovox_command('stats', url)
    assert stats.returncode == 0, stats.stderr
    assert f'{ref.get_fdata().max():g}' in stats.stdout, stats.stdout

    out = tmp_path / 'vol5.nii'
    sliced = _neurovox_command('slice', url, '...,5', '--output', str(out))
    assert sliced.returncode == 0, sliced.stderr
    np.testing.assert_array_equal(nibabel.load(out).get_fdata(), ref.get_fdata()[..., 5])

    converted = tmp_path / 'copy.nii'
    conv = _neurovox_command('convert', url, str(converted))
    assert conv.returncode == 0, conv.stderr
    np.testing.assert_allclose(nibabel.load(converted).get_fdata(), ref.get_fdata())

    same = _neurovox_command('diff', url, str(path))
    assert same.returncode == 0, same.stdout + same.stderr
    server.objects['other.nii'] = _bold(tmp_path, 'other.nii').read_bytes()
    nibabel.save(nibabel.Nifti1Image(ref.get_fdata() + 1, ref.affine), tmp_path / 'plus1.nii')
    differs = _neurovox_command('diff', url, str(tmp_path / 'plus1.nii'))
    assert differs.returncode == 1, differs.stdout + differs.stderr

    missing = _neurovox_command('info', f'{server.url}/nothing.nii.gz')
    assert missing.returncode != 0 and 'nothing.nii.gz' in missing.stderr


@pytest.fixture(scope='module')
def moto_s3():
    """moto's S3 server on loopback, with a bucket of test images; yields (endpoint, put)."""
    from moto.server import ThreadedMotoServer
    import boto3
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f'http://{host}:{port}'
    client = boto3.client('s3', endpoint_url=endpoint, region_name='us-east-1',
                          aws_access_key_id='testing', aws_secret_access_key='testing')
    client.create_bucket(Bucket='lab.images')

    def put(key, body, public=True):
        # Readable by anyone, as a public dataset's objects are, unless private.
        acl = {'ACL': 'public-read'} if public else {}
        client.put_object(Bucket='lab.images', Key=key, Body=body, **acl)

    yield endpoint, put
    server.stop()


def _aws_environment(monkeypatch, tmp_path, endpoint, credentials):
    for name in ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE',
                 'AWS_NO_SIGN_REQUEST', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL_STS',
                 'AWS_REGION', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE',
                 'AWS_ROLE_SESSION_NAME', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
                 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_EC2_METADATA_SERVICE_ENDPOINT'):
        monkeypatch.delenv(name, raising=False)
    # The machine running the tests may be an EC2 instance: its role must not sign them.
    monkeypatch.setenv('AWS_EC2_METADATA_DISABLED', 'true')
    monkeypatch.setenv('AWS_ENDPOINT_URL', endpoint)
    shared = tmp_path / 'credentials'
    shared.write_text(credentials)
    monkeypatch.setenv('AWS_SHARED_CREDENTIALS_FILE', str(shared))
    monkeypatch.setenv('AWS_CONFIG_FILE', str(tmp_path / 'no-config'))


@pytest.mark.parametrize('credentials', [
    '',  # anonymous, as for a public bucket
    '[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n',  # signed
])
def test_s3_objects_read_from_a_real_s3_server(tmp_path, moto_s3, monkeypatch, credentials):
    endpoint, put = moto_s3
    _aws_environment(monkeypatch, tmp_path, endpoint, credentials)
    bold = _bold(tmp_path, 'bold.nii.gz')
    key = f'ds000001/sub-01/func/sub-01_bold{len(credentials)}.nii.gz'
    put(key, bold.read_bytes())
    nibabel.save(nibabel.Nifti1Pair(np.arange(60, dtype=np.float32).reshape(3, 4, 5),
                                    np.eye(4)), tmp_path / 'pair.hdr')
    put('pairs/pair.hdr', (tmp_path / 'pair.hdr').read_bytes())
    put('pairs/pair.img', (tmp_path / 'pair.img').read_bytes())

    img = nv.load(f's3://lab.images/{key}')
    ref = nibabel.load(bold)
    np.testing.assert_array_equal(img.dataobj[..., 4], ref.dataobj[..., 4])
    np.testing.assert_array_equal(img.get_fdata(), ref.get_fdata())
    pair = nv.load('s3://lab.images/pairs/pair.img')
    assert isinstance(pair, nv.Nifti1Pair)
    np.testing.assert_array_equal(pair.get_fdata(), np.arange(60).reshape(3, 4, 5))
    with pytest.raises(FileNotFoundError, match='s3://lab.images/nothing.nii'):
        nv.load('s3://lab.images/nothing.nii')


def test_a_private_s3_object_read_anonymously_says_credentials_are_needed(tmp_path, moto_s3,
                                                                           monkeypatch):
    endpoint, put = moto_s3
    _aws_environment(monkeypatch, tmp_path, endpoint, '')
    put('private/secret.nii', _bold(tmp_path, 'secret.nii').read_bytes(), public=False)
    with pytest.raises(PermissionError, match='private bucket needs AWS credentials'):
        nv.load('s3://lab.images/private/secret.nii')


def test_private_s3_objects_read_with_temporary_credentials(tmp_path, moto_s3, monkeypatch):
    """A profile's credential_process (what SSO helpers and vaults provide) and the container
    credentials endpoint (ECS tasks, EKS Pod Identity) sign reads of a private object; the
    process runs once for many requests; its failure is reported, not read anonymously."""
    import json
    import sys

    endpoint, put = moto_s3
    _aws_environment(monkeypatch, tmp_path, endpoint, '')
    bold = _bold(tmp_path, 'temporary.nii.gz')
    put('private/temporary.nii.gz', bold.read_bytes(), public=False)
    ref = nibabel.load(bold)
    keys = {'AccessKeyId': 'testing', 'SecretAccessKey': 'testing', 'SessionToken': 'session',
            'Expiration': '2999-01-01T00:00:00Z'}

    helper = tmp_path / 'helper.py'
    runs = tmp_path / 'runs'
    helper.write_text(f'import json, pathlib\n'
                      f'with open({str(runs)!r}, "a") as f: f.write("run\\n")\n'
                      f'print(json.dumps(dict(Version=1, **{keys!r})))\n')
    config = tmp_path / 'config'
    config.write_text(f'[profile lab]\ncredential_process = {sys.executable} {helper}\n'
                      f'[profile broken]\ncredential_process = {sys.executable} -c "exit(7)"\n')
    monkeypatch.setenv('AWS_CONFIG_FILE', str(config))
    monkeypatch.setenv('AWS_PROFILE', 'lab')
    img = nv.load('s3://lab.images/private/temporary.nii.gz')
    np.testing.assert_array_equal(img.get_fdata(), ref.get_fdata())
    np.testing.assert_array_equal(img.dataobj[..., 3], ref.dataobj[..., 3])
    assert runs.read_text().count('run') == 1

    monkeypatch.setenv('AWS_PROFILE', 'broken')
    with pytest.raises(OSError, match='credential_process of AWS profile "broken"'):
        nv.load('s3://lab.images/private/temporary.nii.gz')

    body = json.dumps({**keys, 'Token': keys['SessionToken']}).encode()
    with _endpoint(lambda *request: (200, body)) as (origin, seen):
        monkeypatch.setenv('AWS_PROFILE', 'nowhere')
        monkeypatch.setenv('AWS_CONTAINER_CREDENTIALS_FULL_URI',
                           f'{origin}/v2/credentials/pod')
        monkeypatch.setenv('AWS_CONTAINER_AUTHORIZATION_TOKEN', 'pod-token')
        img = nv.load('s3://lab.images/private/temporary.nii.gz')
        np.testing.assert_array_equal(img.get_fdata(), ref.get_fdata())
        asked = {(path, headers.get('Authorization')) for _, path, headers in seen}
        assert asked == {('/v2/credentials/pod', 'pod-token')}


def _assumed_roles(account='123456789012'):
    """The roles moto's STS has handed out keys for: (role ARN, session name)."""
    from moto.sts.models import sts_backends
    return [(r.role_arn, r.session_name) for r in sts_backends[account]['global'].assumed_roles]


def test_private_s3_objects_read_with_roles_assumed_through_sts(tmp_path, moto_s3, monkeypatch):
    """A web identity token (EKS service accounts, CI OIDC) and a profile's role_arn with a
    source_profile are exchanged for a role's keys at STS (moto's, on the same endpoint), and
    those keys sign the reads of a private object; a role STS refuses is reported."""
    endpoint, put = moto_s3
    _aws_environment(monkeypatch, tmp_path, endpoint, '')
    bold = _bold(tmp_path, 'role.nii.gz')
    put('private/role.nii.gz', bold.read_bytes(), public=False)
    ref = nibabel.load(bold)

    token = tmp_path / 'token'
    token.write_text('eyJhbGciOiJSUzI1NiJ9.pod.signature\n')
    monkeypatch.setenv('AWS_ROLE_ARN', 'arn:aws:iam::123456789012:role/pod-reader')
    monkeypatch.setenv('AWS_WEB_IDENTITY_TOKEN_FILE', str(token))
    monkeypatch.setenv('AWS_ROLE_SESSION_NAME', 'pod-7')
    img = nv.load('s3://lab.images/private/role.nii.gz')
    np.testing.assert_array_equal(img.get_fdata(), ref.get_fdata())
    assert ('arn:aws:iam::123456789012:role/pod-reader', 'pod-7') in _assumed_roles()
    for name in ('AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_SESSION_NAME'):
        monkeypatch.delenv(name)

    shared = tmp_path / 'credentials'
    shared.write_text('[base]\naws_access_key_id = testing\naws_secret_access_key = testing\n')
    config = tmp_path / 'config'
    config.write_text('[profile reader]\nrole_arn = arn:aws:iam::123456789012:role/reader\n'
                      'source_profile = base\nrole_session_name = alice\n'
                      '[profile nowhere]\nrole_arn = arn:aws:iam::123456789012:role/x\n')
    monkeypatch.setenv('AWS_CONFIG_FILE', str(config))
    monkeypatch.setenv('AWS_PROFILE', 'reader')
    img = nv.load('s3://lab.images/private/role.nii.gz')
    np.testing.assert_array_equal(img.dataobj[..., 2], ref.dataobj[..., 2])
    assert ('arn:aws:iam::123456789012:role/reader', 'alice') in _assumed_roles()

    monkeypatch.setenv('AWS_PROFILE', 'nowhere')
    with pytest.raises(ValueError, match='AWS profile "nowhere" has a role_arn but no source'):
        nv.load('s3://lab.images/private/role.nii.gz')


def test_private_s3_objects_read_with_an_sso_session(tmp_path, moto_s3, monkeypatch):
    """An SSO profile's role keys are bought from the SSO portal (a loopback stand-in) with the
    token `aws sso login` left in ~/.aws/sso/cache (named by the SHA-1 of the session's name,
    as the AWS CLI names it); an expired token says to log in again."""
    import hashlib
    import json

    endpoint, put = moto_s3
    _aws_environment(monkeypatch, tmp_path, endpoint, '')
    bold = _bold(tmp_path, 'sso.nii.gz')
    put('private/sso.nii.gz', bold.read_bytes(), public=False)
    ref = nibabel.load(bold)
    keys = json.dumps({'roleCredentials': {
        'accessKeyId': 'testing', 'secretAccessKey': 'testing',
        'sessionToken': 'sso-session', 'expiration': 32503680000000}}).encode()
    with _endpoint(lambda *request: (200, keys)) as (origin, seen):
        monkeypatch.setenv('HOME', str(tmp_path))
        monkeypatch.setenv('AWS_ENDPOINT_URL_SSO', origin)
        config = tmp_path / 'config'
        config.write_text('[profile lab]\nsso_session = lab-sso\nsso_account_id = 123456789012\n'
                          'sso_role_name = ImagingReader\n'
                          '[sso-session lab-sso]\nsso_region = eu-west-1\n'
                          'sso_start_url = https://lab.awsapps.com/start\n')
        monkeypatch.setenv('AWS_CONFIG_FILE', str(config))
        monkeypatch.setenv('AWS_PROFILE', 'lab')
        cache = tmp_path / '.aws' / 'sso' / 'cache'
        cache.mkdir(parents=True)
        token = cache / (hashlib.sha1(b'lab-sso').hexdigest() + '.json')
        token.write_text(json.dumps({'startUrl': 'https://lab.awsapps.com/start',
                                     'region': 'eu-west-1', 'accessToken': 'sso-access',
                                     'expiresAt': '2999-01-01T00:00:00Z'}))
        img = nv.load('s3://lab.images/private/sso.nii.gz')
        np.testing.assert_array_equal(img.get_fdata(), ref.get_fdata())
        asked = [(path, headers.get('x-amz-sso_bearer_token')) for _, path, headers in seen]
        assert asked == [('/federation/credentials?account_id=123456789012'
                          '&role_name=ImagingReader', 'sso-access')]

        # Another session, logged in long ago.
        config.write_text(config.read_text().replace('lab-sso', 'old-sso'))
        (cache / (hashlib.sha1(b'old-sso').hexdigest() + '.json')).write_text(json.dumps(
            {'accessToken': 'stale', 'expiresAt': '2020-01-01T00:00:00Z'}))
        with pytest.raises(OSError, match='aws sso login --profile lab'):
            nv.load('s3://lab.images/private/sso.nii.gz')
        assert len(seen) == 1


def test_an_ec2_instance_role_signs_what_an_anonymous_request_may_not_read(tmp_path, moto_s3,
                                                                          monkeypatch):
    """With no credentials configured, reads are anonymous and the instance metadata service is
    not asked; when an anonymous read is refused, the instance role's keys (IMDSv2: a session
    token, then the role, then its keys) sign it."""
    import json

    endpoint, put = moto_s3
    _aws_environment(monkeypatch, tmp_path, endpoint, '')
    bold = _bold(tmp_path, 'instance.nii.gz')
    put('private/instance.nii.gz', bold.read_bytes(), public=False)
    put('public/instance.nii.gz', bold.read_bytes())
    ref = nibabel.load(bold)
    keys = json.dumps({'Code': 'Success', 'AccessKeyId': 'testing', 'SecretAccessKey': 'testing',
                       'Token': 'instance', 'Expiration': '2999-01-01T00:00:00Z'}).encode()

    def metadata(method, path, headers):
        if method == 'PUT':
            return 200, b'imds-session'
        return 200, b'lab-instance-role' if path.endswith('/security-credentials/') else keys

    with _endpoint(metadata) as (origin, seen):
        monkeypatch.delenv('AWS_EC2_METADATA_DISABLED')
        monkeypatch.setenv('AWS_EC2_METADATA_SERVICE_ENDPOINT', origin)
        public = nv.load('s3://lab.images/public/instance.nii.gz')
        np.testing.assert_array_equal(public.get_fdata(), ref.get_fdata())
        assert seen == []
        private = nv.load('s3://lab.images/private/instance.nii.gz')
        np.testing.assert_array_equal(private.get_fdata(), ref.get_fdata())
        role = '/latest/meta-data/iam/security-credentials/'
        asked = [(method, path, headers.get('X-aws-ec2-metadata-token-ttl-seconds')
                  or headers.get('X-aws-ec2-metadata-token')) for method, path, headers in seen]
        assert asked == [('PUT', '/latest/api/token', '21600'),
                         ('GET', role, 'imds-session'),
                         ('GET', role + 'lab-instance-role', 'imds-session')]
        # Disabled, it is not asked: the refusal is reported.
        monkeypatch.setenv('AWS_EC2_METADATA_DISABLED', 'true')
        with pytest.raises(PermissionError, match='private bucket needs AWS credentials'):
            nv.load('s3://lab.images/private/instance.nii.gz')
        assert len(seen) == 3

    # An instance without a role: the refusal says what the service said.
    no_role = (lambda method, path, headers:
               (200, b'imds-session') if method == 'PUT' else (404, b''))
    with _endpoint(no_role) as (origin, _):
        monkeypatch.delenv('AWS_EC2_METADATA_DISABLED')
        monkeypatch.setenv('AWS_EC2_METADATA_SERVICE_ENDPOINT', origin)
        with pytest.raises(PermissionError, match='knows no IAM role of this instance'):
            nv.load('s3://lab.images/private/instance.nii.gz')


def test_dask_workers_read_their_own_ranges_of_remote_images(tmp_path, server):
    distributed = pytest.importorskip('distributed')
    import dask.array
    import neurovox.dask
    urls, arrays = [], []
    for i in range(4):
        name = f'bold{i}.nii.gz' if i % 2 else f'bold{i}.nii'  # half gzip, half plain
        path = _bold(tmp_path, name)
        server.objects[name] = path.read_bytes()
        urls.append(f'{server.url}/{name}')
        arrays.append(nibabel.load(path).get_fdata())
    stack = neurovox.dask.from_images(urls)
    before, _ = server.served()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        means = client.compute(stack.mean(axis=(1, 2, 3))).result()
        workers = client.run(lambda: os.getpid())
        # dask's own from_array of a remote proxy: the proxy travels to the workers by pickle.
        one = dask.array.from_array(nv.load(urls[1]).dataobj, chunks=(40, 40, 20, 1))
        volume3 = client.compute(one[..., 3]).result()
    after, _ = server.served()
    assert len(set(workers.values())) == 2
    # The workers asked the server for the data; this process read only the headers.
    assert after > before
    np.testing.assert_allclose(means, [a.mean(axis=(0, 1, 2)) for a in arrays], rtol=1e-12)
    np.testing.assert_array_equal(volume3, arrays[1][..., 3])


def _long_run(tmp_path, name):
    """A nibabel-written (foreign: one gzip member) run of several spans."""
    rng = np.random.default_rng(7)
    data = np.zeros((64, 64, 30, 24), dtype=np.int16)
    data[8:56, 8:56, 3:27] = rng.integers(0, 900, size=(48, 48, 24, 24))
    path = tmp_path / name
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), path)
    return path, data


def test_a_volume_of_a_foreign_url_fetches_little_past_the_bytes_it_needs(tmp_path, server):
    """Another tool's .nii.gz has no index: a volume's read inflates from the start, reading
    ahead of itself, but no further than the compressed bytes it will need (guessed from the
    ratio so far, issue 18) — not the rest of the file."""
    import zlib
    rng = np.random.default_rng(11)
    data = np.zeros((64, 64, 30, 48), dtype=np.int16)
    data[8:56, 8:56, 3:27] = rng.integers(0, 900, size=(48, 48, 24, 48))
    path = tmp_path / 'foreign.nii.gz'
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), path)
    blob = path.read_bytes()
    server.objects['foreign.nii.gz'] = blob
    # The compressed bytes up to the end of volume 16, found with zlib.
    t = 16
    volume_end = 352 + (t + 1) * data[..., 0].nbytes
    inflater = zlib.decompressobj(31)
    out = consumed = 0
    while out < volume_end:
        out += len(inflater.decompress(blob[consumed:consumed + 4096]))
        consumed += 4096
    assert consumed < len(blob) / 2

    server.log.clear()
    np.testing.assert_array_equal(nv.load(f'{server.url}/foreign.nii.gz').dataobj[..., t],
                                  data[..., t])
    served = server.served()[1]
    # The header's two requests (64 KiB), the bytes needed, and the guess's margin.
    assert consumed <= served <= 64 * 1024 + consumed * 1.15 + 512 * 1024, (served, consumed,
                                                                         len(blob))


@pytest.mark.parametrize('where', ['cache', 'next to the object'])
def test_neurovox_index_of_a_url_spares_later_loads_the_first_pass(tmp_path, server,
                                                                    monkeypatch, where):
    path, data = _long_run(tmp_path, 'run.nii.gz')
    server.objects['run.nii.gz'] = path.read_bytes()
    url = f'{server.url}/run.nii.gz'
    cache = tmp_path / 'cache'
    monkeypatch.setenv('NEUROVOX_GZIP_INDEX_DIR', str(cache))

    def last_volume_bytes():
        server.log.clear()
        np.testing.assert_array_equal(nv.load(url).dataobj[..., 23], data[..., 23])
        return server.served()[1]

    without = last_volume_bytes()
    args = ['index', url] + (['--cache'] if where == 'cache' else [])
    script = os.path.join(sysconfig.get_path('scripts'), 'neurovox')
    built = subprocess.run([script, *args], capture_output=True, text=True, timeout=120,
                           cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert 'checkpoints' in built.stdout
    if where == 'cache':
        assert len(list(cache.iterdir())) == 1
    else:
        server.objects['run.nii.gz.nvgzidx'] = (tmp_path / 'run.nii.gz.nvgzidx').read_bytes()
    with_index = last_volume_bytes()
    assert without >= 0.9 * len(server.objects['run.nii.gz'])
    assert with_index < without / 2, (with_index, without)
