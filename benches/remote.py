"""Remote reads at a cloud's latency: neurovox against nibabel's routes (issue 18).

A loopback HTTP server with Range support adds a fixed latency to every request (20 ms by
default, a cloud round trip) and counts the requests and bytes it serves. Each measurement
runs in a process of its own (this VM faults fresh memory unevenly; see the matrix's notes),
repeated, best time kept; ratios compare sides within this one run.

Files: a 4-D int16 run with a zero background (compresses as scans do), written as
neurovox's indexed `.nii.gz` ("ours") and as nibabel writes it (one gzip member, "foreign").

Sides:
  neurovox          nv.load(url), then the read: range requests through the block cache.
  nibabel download  the whole file fetched (urllib) to a temporary file, then nib.load —
                    what `from_url` users do for a .nii.gz (`from_url` reads no gzip).
  nibabel fsspec    nib.Nifti1Image.from_file_map over gzip.GzipFile(fsspec's HTTP file):
                    nibabel's random access over a network file object.

Cases: one volume (`dataobj[..., T // 2]`) and a full read (`get_fdata()`).

Usage: .venv/bin/python benches/remote.py [--latency-ms 20] [--mb-per-s 0]
       [--shape 64,64,40,200] [--repeats 3] [--markdown FILE]
(--mb-per-s caps each connection's bandwidth, as a cloud stream's is; 0: loopback speed)
fsspec's HTTP files need aiohttp (tests/oracle/requirements-bench.txt); without it that side
is left out and the table says so.
"""

import argparse
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# -- the server (run in its own process: `--serve DIR LATENCY_MS PORT_FILE`) ----------------

def read_range(path, offset, length):
    with open(path, 'rb') as f:
        f.seek(offset)
        return f.read(length)


def serve(directory, latency_ms, port_file, mb_per_s=0.0):
    stats = {'requests': 0, 'bytes': 0}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == '/__stats':
                with lock:
                    body = json.dumps(stats).encode()
                    stats.update(requests=0, bytes=0)
                return self._answer(200, body, {}, count=False)
            time.sleep(latency_ms / 1000)
            path = os.path.join(directory, os.path.basename(self.path.split('?')[0]))
            try:
                size = os.path.getsize(path)
                headers = {'ETag': f'"{os.stat(path).st_mtime_ns}"', 'Accept-Ranges': 'bytes'}
            except OSError:
                return self._answer(404, b'not found', {})
            wanted = self.headers.get('Range')
            if wanted is None:
                return self._answer(200, read_range(path, 0, size), headers)
            first, last = wanted.removeprefix('bytes=').split('-')
            if not first:  # a suffix range: the last N bytes
                first, last = max(size - int(last), 0), size - 1
            first = int(first)
            last = min(int(last) if last != '' else size - 1, size - 1)
            if first >= size:
                headers['Content-Range'] = f'bytes */{size}'
                return self._answer(416, b'', headers)
            headers['Content-Range'] = f'bytes {first}-{last}/{size}'
            # Only the range is read, as an object store serves it: reading the whole file
            # per request would charge many small requests for bytes nobody asked for.
            return self._answer(206, read_range(path, first, last + 1 - first), headers)

        def do_HEAD(self):
            time.sleep(latency_ms / 1000)
            path = os.path.join(directory, os.path.basename(self.path))
            if not os.path.exists(path):
                return self._answer(404, b'', {}, head=True)
            size = os.path.getsize(path)
            self._answer(200, b'', {'Accept-Ranges': 'bytes', 'Content-Length-Real': size},
                         head=True, length=size)

        def _answer(self, status, body, headers, count=True, head=False, length=None):
            if count:
                with lock:
                    stats['requests'] += 1
                    stats['bytes'] += len(body)
                if mb_per_s > 0:  # each connection's bandwidth, as a cloud stream has one
                    time.sleep(len(body) / (mb_per_s * 1e6))
            self.send_response(status)
            for key, value in headers.items():
                if key != 'Content-Length-Real':
                    self.send_header(key, str(value))
            self.send_header('Content-Length', str(len(body) if length is None else length))
            self.end_headers()
            if not head:
                self.wfile.write(body)

    class Server(http.server.ThreadingHTTPServer):
        # The default backlog of 5 drops connections when a reader opens eight at once, and
        # a dropped connection waits out TCP's 1 s SYN retry: a stall that is the server's.
        request_queue_size = 128

    httpd = Server(('127.0.0.1', 0), Handler)
    Path(port_file).write_text(str(httpd.server_address[1]))
    httpd.serve_forever()


# -- one measurement (run in its own process: `--measure SIDE CASE URL`) --------------------

def measure(side, case, url):
    # Imports first: the time is the load and the read, not Python starting up.
    import gzip
    import urllib.request
    import numpy as np
    import nibabel as nib
    import neurovox as nv
    if side == 'nibabel fsspec':
        import fsspec
    start = time.perf_counter()
    if side == 'neurovox':
        img = nv.load(url)
        out = np.asarray(img.dataobj[..., img.shape[-1] // 2]) if case == 'volume' \
            else img.get_fdata()
    elif side == 'nibabel download':
        with tempfile.TemporaryDirectory() as tmp:
            local = os.path.join(tmp, os.path.basename(url))
            with urllib.request.urlopen(url) as response, open(local, 'wb') as f:
                f.write(response.read())
            img = nib.load(local)
            out = np.asarray(img.dataobj[..., img.shape[-1] // 2]) if case == 'volume' \
                else img.get_fdata()
    elif side == 'nibabel fsspec':
        with fsspec.open(url, 'rb') as raw:
            holder = nib.FileHolder(fileobj=gzip.GzipFile(fileobj=raw))
            img = nib.Nifti1Image.from_file_map({'header': holder, 'image': holder})
            out = np.asarray(img.dataobj[..., img.shape[-1] // 2]) if case == 'volume' \
                else img.get_fdata()
    else:
        raise SystemExit(f'unknown side {side!r}')
    elapsed = time.perf_counter() - start
    print(json.dumps({'seconds': elapsed, 'checksum': float(np.asarray(out, np.float64).sum())}))


# -- the run --------------------------------------------------------------------------------

def write_files(directory, shape):
    import numpy as np
    import nibabel as nib
    import neurovox as nv
    rng = np.random.default_rng(18)
    data = np.zeros(shape, dtype=np.int16)
    x, y, z = shape[0], shape[1], shape[2]
    inner = (slice(x // 8, x - x // 8), slice(y // 8, y - y // 8), slice(z // 10, z - z // 10))
    core = tuple(s.stop - s.start for s in inner)
    base = rng.integers(200, 1800, size=core, dtype=np.int16)
    for t in range(shape[3]):
        data[inner + (t,)] = base + rng.integers(-40, 40, size=core, dtype=np.int16)
    affine = np.diag([3.0, 3.0, 3.5, 1.0])
    nib.save(nib.Nifti1Image(data, affine), os.path.join(directory, 'foreign.nii.gz'))
    nv.save(nv.Nifti1Image(data, affine), os.path.join(directory, 'ours.nii.gz'))
    return {name: os.path.getsize(os.path.join(directory, name))
            for name in ('ours.nii.gz', 'foreign.nii.gz')}


def stats(base):
    import urllib.request
    with urllib.request.urlopen(f'{base}/__stats') as r:
        return json.loads(r.read())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--serve', nargs=4, metavar=('DIR', 'LATENCY_MS', 'PORT_FILE', 'MB_S'))
    parser.add_argument('--measure', nargs=3, metavar=('SIDE', 'CASE', 'URL'))
    parser.add_argument('--latency-ms', type=float, default=20.0)
    parser.add_argument('--mb-per-s', type=float, default=0.0,
                        help='bandwidth of each connection in MB/s (0: loopback speed)')
    parser.add_argument('--shape', default='64,64,40,200')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--markdown')
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve[0], float(args.serve[1]), args.serve[2], float(args.serve[3]))
    if args.measure:
        return measure(*args.measure)

    shape = tuple(int(n) for n in args.shape.split(','))
    sides = ['neurovox', 'nibabel download']
    try:
        import aiohttp  # noqa: F401  fsspec's HTTP files need it
        sides.append('nibabel fsspec')
    except ImportError:
        print('aiohttp is missing: the nibabel fsspec side is left out '
              '(pip install -r tests/oracle/requirements-bench.txt)')
    with tempfile.TemporaryDirectory() as directory:
        sizes = write_files(directory, shape)
        port_file = os.path.join(directory, 'port')
        server = subprocess.Popen([sys.executable, __file__, '--serve', directory,
                                   str(args.latency_ms), port_file, str(args.mb_per_s)])
        try:
            while not os.path.exists(port_file) or not Path(port_file).read_text():
                time.sleep(0.05)
            base = f'http://127.0.0.1:{Path(port_file).read_text()}'
            rows = []
            for name in ('ours.nii.gz', 'foreign.nii.gz'):
                for case in ('volume', 'full'):
                    results = {}
                    for side in sides:
                        best = None
                        for _ in range(args.repeats):
                            stats(base)
                            run = subprocess.run(
                                [sys.executable, __file__, '--measure', side, case,
                                 f'{base}/{name}'], capture_output=True, text=True)
                            served = stats(base)
                            if run.returncode != 0:
                                best = {'error': run.stderr.strip().splitlines()[-1]}
                                break
                            seconds = json.loads(run.stdout.strip().splitlines()[-1])['seconds']
                            if best is None or seconds < best['seconds']:
                                best = {'seconds': seconds, **served}
                        results[side] = best
                    rows.append((name, case, results))
                    print(name, case, json.dumps(results), flush=True)
        finally:
            server.terminate()
            server.wait()

    speed = f'{args.mb_per_s:g} MB/s per connection' if args.mb_per_s else 'loopback speed'
    lines = [f'Latency {args.latency_ms:g} ms per request, {speed}; run {shape} int16; '
             f'ours.nii.gz {sizes["ours.nii.gz"] / 1e6:.1f} MB, foreign.nii.gz '
             f'{sizes["foreign.nii.gz"] / 1e6:.1f} MB; best of {args.repeats}, each in its own '
             'process.', '',
             '| file | read | side | time (s) | requests | MB transferred | nibabel ÷ neurovox |',
             '|---|---|---|--:|--:|--:|--:|']
    for name, case, results in rows:
        ours = results['neurovox'].get('seconds')
        for side in sides:
            r = results[side]
            if 'error' in r:
                lines.append(f'| {name} | {case} | {side} | failed: {r["error"][:60]} | | | |')
                continue
            ratio = '' if side == 'neurovox' or not ours else f'{r["seconds"] / ours:.1f}×'
            lines.append(f'| {name} | {case} | {side} | {r["seconds"]:.3f} | {r["requests"]} | '
                         f'{r["bytes"] / 1e6:.2f} | {ratio} |')
    table = '\n'.join(lines)
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table + '\n')


if __name__ == '__main__':
    main()
