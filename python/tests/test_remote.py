"""Images loaded from URLs (issue 18), against a real HTTP server on loopback with Range
support that counts what it serves; values compared with nibabel reading the same bytes from
a local file."""

import http.server
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
            first = int(first)
            last = min(int(last) if last else len(body) - 1, len(body) - 1)
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


@pytest.fixture()
def server():
    objects = _Objects()
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _handler(objects))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    objects.url = f'http://127.0.0.1:{httpd.server_address[1]}'
    yield objects
    httpd.shutdown()
    httpd.server_close()


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


def test_missing_and_forbidden_urls_raise_what_files_raise(server):
    with pytest.raises(FileNotFoundError, match='nothing.nii.gz'):
        nv.load(f'{server.url}/nothing.nii.gz')
    server.objects['forbidden/a.nii'] = b'\0' * 400
    with pytest.raises(PermissionError, match='forbidden/a.nii'):
        nv.load(f'{server.url}/forbidden/a.nii')
