# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pantheon.platform.files_sync through ansible-playbook: backups and local directories into an
environment's files/ over real SSH and rsync, resumable downloads, flat memory, no secrets."""

from __future__ import annotations

import gzip
import http.server
import io
import os
import re
import sys
import tarfile
import threading
import time
import urllib.parse

import pytest

from helpers.secrets import assert_no_secrets
from site_clone_helpers import last_request_id, requests_since, writes_since
from transfer_helpers import api_post, latest_backup, run_module, seed, upload_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'benchmarks'))
from files_sync_memory import inventory_for, make_rss_wrapper, module_peaks  # noqa: E402  pylint: disable=wrong-import-position

MIB = 1024 * 1024


def _files(emulator, site, env):
    return emulator.state(site, env, digest=True)['files']


def _pair(emulator, prefix, src_files, dst_files=None, backup=True):
    spec = {'name': prefix + 'src', 'framework': 'drupal8', 'envs': ['dev', 'live'], 'files': src_files}
    if backup:
        spec['backups'] = [{'env': 'live', 'elements': ['files']}]
    sites = seed(emulator, [spec, {'name': prefix + 'dst', 'framework': 'drupal8', 'envs': ['dev'],
                                   'files': dst_files or {'count': 3}}])
    return sites[prefix + 'src'], sites[prefix + 'dst']


def test_backup_reaches_target_then_idempotent_and_check_mode(emulator, site_prefix, tmp_path):
    # and one of 2 MB that gzip makes about 12 KB of: the upload lasts (rsync counts bytes as it reads them, ahead of
    # the connection by its buffers), the backup stays small
    files = {'count': 30, 'size': [100, 5000], 'unicode': True, 'depth': 2, 'folders': 3, 'empty_dirs': 1,
             'big': [{'name': 'media/big.txt', 'size': '2MB', 'compressible': True}]}
    src, dst = _pair(emulator, site_prefix, files)
    source = _files(emulator, src['name'], 'live')
    # compress=false: the upload's 2 MB cross the connection whole, so the bandwidth limit below paces all of them
    args = {'site': dst['name'], 'env': 'dev', 'backup': {'site': src['name'], 'env': 'live'}, 'delete': True,
            'overwrite': True, 'compress': False}

    # through ansible-playbook with the progress callback (0.5 s heartbeat): the download (a backup of about 17 KB,
    # sent at 4 KB/s by the emulator) and the rsync upload (slowed by the test hook to 512 KiB/s: about 4 s) each
    # show their bytes while they run
    with emulator.limits(download_rate=4000):
        res, out = run_module(emulator, tmp_path, 'files_sync', args, ansible=True, env={
            'ANSIBLE_CALLBACKS_ENABLED': 'pantheon_test_results,pantheon.platform.progress', 'PANTHEON_PROGRESS_HEARTBEAT': '0.5',
            'PANTHEON_TEST_RSYNC_BWLIMIT': '512'})
    assert res.rc == 0, res.output
    size = out['source']['size']
    lines = re.findall(r'^progress: files_sync %s\.dev: download: ([0-9.]+ K?B) of ([0-9.]+ KB) \((\d+)%%\), [0-9.]+ K?B/s$'
                       % re.escape(dst['name']), res.stdout, re.M)
    assert len(lines) >= 2 and all(line[1] == '%.1f KB' % (size / 1024.0) for line in lines), res.stdout[-3000:]
    assert [int(line[2]) for line in lines] == sorted(int(line[2]) for line in lines) and int(lines[0][2]) < 100
    # the upload: rsync's own percentage (of the source's bytes, the total shown) as it moves, no file names
    uploads = re.findall(r'^progress: files_sync %s\.dev: upload: ([0-9.]+ [KM]?B) of ([0-9.]+ MB) \((\d+)%%\), [0-9.]+ [KM]?B/s$'
                         % re.escape(dst['name']), res.stdout, re.M)
    percents = [int(line[2]) for line in uploads]
    assert len(set(percents)) >= 2 and percents == sorted(percents), res.stdout[-3000:]
    assert all(line[1] == '%.1f MB' % (source['bytes'] / 1048576.0) for line in uploads)
    assert 'file-00' not in ''.join(line for line in res.stdout.splitlines() if line.startswith('progress:'))
    assert out['changed'] is True
    assert out['source']['kind'] == 'backup' and out['source']['files'] == source['count'] == 31
    assert out['files_sent'] >= 1 and out['files_deleted'] >= 1
    assert out['rsync_stats']['total_file_size'] == source['bytes']
    assert out['download']['bytes'] == out['source']['size'] and out['download']['resumes'] == 0
    assert out['up_to_date'] is False
    assert 'staging_path' not in out
    target = _files(emulator, dst['name'], 'dev')
    assert target['digest'] == source['digest']            # same paths, same bytes (unicode names too)
    assert target['empty_dirs'] == source['empty_dirs'] == 1

    # the same backup again, the target as the first run left it: nothing downloaded
    since = last_request_id(emulator)
    res, out = run_module(emulator, tmp_path, 'files_sync', args)
    assert res.rc == 0, res.output
    assert out['changed'] is False and out['files_sent'] == 0 and out['files_deleted'] == 0
    assert out['up_to_date'] is True and out['download']['bytes'] == 0
    assert [r for r in emulator.requests(since=since) if r['id'] > since and r['channel'] == 'download'] == []

    # a changed file on the target: check mode tells the truth and changes nothing
    upload_file(emulator, dst['id'], 'dev', 'file-0000.txt', b'edited on the target\n')
    edited = _files(emulator, dst['name'], 'dev')['digest']
    res, out = run_module(emulator, tmp_path, 'files_sync', args, check=True, diff=True)
    assert res.rc == 0, res.output
    assert out['changed'] is True and out['files_sent'] == 1 and out['up_to_date'] is False
    assert out['examples']['sent'] == ['file-0000.txt']
    assert '+ file-0000.txt' in out['diff']['prepared']
    assert _files(emulator, dst['name'], 'dev')['digest'] == edited


def test_local_directory_with_exclude_and_size_compare(emulator, site_prefix, tmp_path):
    dummy, dst = _pair(emulator, site_prefix, {'count': 1}, backup=False)
    src = tmp_path / 'export'
    (src / 'nested' / 'déjà vu').mkdir(parents=True)
    (src / 'nested' / 'déjà vu' / 'a b.txt').write_text('one\n')
    (src / 'nested' / 'plain.txt').write_text('x' * 100000)  # compress=false: sent as is
    (src / 'top.bin').write_bytes(os.urandom(3000))
    (src / 'css').mkdir()
    (src / 'css' / 'generated.css').write_text('body{}\n')
    # another clone's archive, as a backup taken while it existed holds it (top of files/): never sent; one on
    # the target is left alone by --delete
    (src / ('a' * 40 + '.tgz')).write_bytes(b'archive')
    root = emulator.state(dst['name'], 'dev')['paths']['files']
    with open(os.path.join(root, 'b' * 40 + '.tar.gz'), 'wb') as f:
        f.write(b'archive')
    res, out = run_module(emulator, tmp_path, 'files_sync', {
        'overwrite': True, 'site': dst['name'], 'src': str(src), 'compare': 'size', 'exclude': ['css/'], 'delete': True,
        'compress': False})
    assert res.rc == 0, res.output
    assert out['changed'] is True and out['files_sent'] == 3
    assert out['source'] == {'kind': 'src', 'path': str(src), 'files': 5, 'dirs': 3, 'links': 0,
                             'bytes': 4 + 100000 + 3000 + 7 + 7}
    # without -z the 100 kB of one letter cross the connection whole (with it, a few hundred bytes would)
    assert out['bytes_sent'] > 100000
    assert open(os.path.join(root, 'nested', 'déjà vu', 'a b.txt')).read() == 'one\n'
    assert not os.path.exists(os.path.join(root, 'css'))
    # seeded files were deleted; the source's archive was not sent, the target's kept
    assert sorted(os.listdir(root)) == ['b' * 40 + '.tar.gz', 'nested', 'top.bin']

    res, out = run_module(emulator, tmp_path, 'files_sync', {'overwrite': True, 'site': dst['name'], 'src': str(tmp_path / 'nope')})
    assert res.rc != 0 and 'is not a directory' in out['msg']
    res, out = run_module(emulator, tmp_path, 'files_sync', {'overwrite': True, 'site': dst['name'], 'src': str(src), 'url': 'https://x/y'})
    assert res.rc != 0 and 'mutually exclusive' in out['msg']


def _import_files_by_url(emulator, site_id, url):
    workflow = api_post(emulator, 'sites/%s/environments/dev/workflows' % site_id,
                        {'type': 'do_import', 'params': {'files': 1, 'url': url}})
    session = emulator.api()
    deadline = time.time() + 120
    while time.time() < deadline:
        current = session.get('%s/sites/%s/workflows/%s' % (emulator.api_url, site_id, workflow['id']), timeout=30).json()
        if current.get('result'):
            return current
        time.sleep(1)
    raise AssertionError('do_import did not finish')


def test_backup_above_url_import_limit_in_flat_memory(emulator, site_prefix, tmp_path):
    """A files backup larger than the URL-import limit: the platform's import refuses it, files_sync
    moves it; the module's peak memory is measured and compared with a tiny backup's."""
    wrapper, log = make_rss_wrapper(str(tmp_path / 'wrapper'))
    small_src, small_dst = _pair(emulator, site_prefix + 's', {'count': 4, 'size': 1000})
    big_src, big_dst = _pair(emulator, site_prefix + 'b', {
        'count': 4, 'size': 1000,
        'big': [{'name': 'media/part-%d.bin' % n, 'size': '4MB', 'compressible': False} for n in range(3)]})
    with emulator.limits(url_import_max_bytes=5 * MIB):
        dummy, url = latest_backup(emulator, big_src['id'], 'live', 'files')
        refused = _import_files_by_url(emulator, big_dst['id'], url)
        assert refused['result'] != 'succeeded'
        peaks = {}
        for name, (src, dst) in (('small', (small_src, small_dst)), ('big', (big_src, big_dst))):
            res, out = run_module(emulator, tmp_path, 'files_sync', {
                'overwrite': True, 'site': dst['name'], 'backup': {'site': src['name'], 'env': 'live'}, 'delete': True},
                inventory=inventory_for(wrapper))
            assert res.rc == 0, res.output
            assert _files(emulator, dst['name'], 'dev')['digest'] == _files(emulator, src['name'], 'live')['digest']
            peaks[name] = (module_peaks(log)[-1], out['source']['size'])
    big_peak, big_size = peaks['big']
    small_peak, small_size = peaks['small']
    assert big_size > 5 * MIB
    print('\nfiles_sync peak RSS: %.1f MiB for a %.1f MiB backup (ratio %.2f); %.1f MiB for a %.1f KiB backup'
          % (big_peak / MIB, big_size / MIB, float(big_peak) / big_size, small_peak / MIB, small_size / 1024.0))
    # flat: the big backup costs at most a few chunks more than a tiny one, far below its size
    assert big_peak - small_peak < 8 * MIB, (big_peak, small_peak)
    assert big_peak < 120 * MIB


def test_connection_reset_mid_download_resumes_and_verifies(emulator, site_prefix, tmp_path):
    src, dst = _pair(emulator, site_prefix, {
        'count': 10, 'size': 2000, 'big': [{'name': 'media/video.bin', 'size': '3MB', 'compressible': False}]})
    folder, dummy = latest_backup(emulator, src['id'], 'live', 'files')
    emulator.faults({'match': {'channel': 'download', 'path': '%s/.*_files\\.tar\\.gz$' % folder},
                     'action': {'truncate_after': 1500000}, 'times': 1})
    try:
        res, out = run_module(emulator, tmp_path, 'files_sync', {
            'overwrite': True, 'site': dst['name'], 'backup': {'site': src['name'], 'env': 'live', 'folder': folder}, 'delete': True})
    finally:
        emulator.clear_faults()
    assert res.rc == 0, res.output
    assert out['download']['resumes'] == 1 and out['download']['bytes'] == out['source']['size']
    ranged = [r for r in emulator.requests(channel='download') if folder in r['path']]
    assert len(ranged) >= 2
    res, out = run_module(emulator, tmp_path, 'clone_verify', {
        'site': src['name'], 'env': 'live', 'target_site': dst['name'], 'elements': ['files']})
    assert res.rc == 0, res.output
    assert out['match'] is True and out['elements']['files']['target']['files'] == 11


class _OneFile(http.server.BaseHTTPRequestHandler):
    payload = b''

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header('Content-Length', str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)


@pytest.fixture()
def evil_server():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w') as tar:
        for name in ('files_live/ok.txt', 'files_live/../../escaped.txt'):
            info = tarfile.TarInfo(name)
            info.size = 3
            tar.addfile(info, io.BytesIO(b'bad'))
    _OneFile.payload = gzip.compress(raw.getvalue())
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _OneFile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield 'http://127.0.0.1:%d/archive/files.tar.gz?sig=secretvalue123' % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_unsafe_archive_is_refused_and_changes_nothing(emulator, site_prefix, tmp_path, evil_server):
    dummy, dst = _pair(emulator, site_prefix, {'count': 1}, backup=False)
    before = _files(emulator, dst['name'], 'dev')['digest']
    res, out = run_module(emulator, tmp_path, 'files_sync', {'overwrite': True, 'site': dst['name'], 'url': evil_server, 'delete': True})
    assert res.rc != 0
    assert 'contains ".."' in out['msg'] and 'refusing' in out['msg']
    assert _files(emulator, dst['name'], 'dev')['digest'] == before
    assert 'secretvalue123' not in res.stdout + res.stderr


def test_signed_url_and_token_stay_secret_at_vvvv(emulator, site_prefix, tmp_path):
    src, dst = _pair(emulator, site_prefix, {'count': 5})
    dummy, url = latest_backup(emulator, src['id'], 'live', 'files')
    query = urllib.parse.urlsplit(url).query
    res, dummy = run_module(emulator, tmp_path, 'files_sync', {'overwrite': True, 'site': dst['name'], 'url': url}, verbosity=4)
    assert res.rc == 0, res.output
    assert 'changed=1' in res.stdout
    signature = dict(urllib.parse.parse_qsl(query))
    secrets = {'machine token': emulator.machine_token, 'signed URL query': query, 'signed URL': url}
    secrets.update(('query value %s' % key, value) for key, value in signature.items() if len(value) >= 6)
    assert_no_secrets(res.stdout + res.stderr, secrets)


def test_a_staging_directory_without_room_is_refused_before_anything_is_downloaded(emulator, site_prefix, tmp_path):
    """issue 11.3: local disk for staging. /proc is a real filesystem with no free space at all (statvfs:
    0 blocks available), so pointing staging_dir there is a staging disk too small for any backup: the
    module says so, names the directory, the free space and the backup's size, and downloads and writes
    nothing; the target is unchanged."""
    src, dst = _pair(emulator, site_prefix, {'count': 8, 'size': [2000, 9000]})
    before = _files(emulator, dst['name'], 'dev')
    since = last_request_id(emulator)
    args = {'site': dst['name'], 'env': 'dev', 'backup': {'site': src['name'], 'env': 'live'}, 'overwrite': True,
            'staging_dir': '/proc'}
    res, out = run_module(emulator, tmp_path, 'files_sync', args)
    assert out['failed'] is True, out
    assert out.get('reason') == 'no_space', out
    assert re.search(r'^The staging directory /proc has 0\.0 MiB free, but the files backup of %s\.live is '
                     r'\d+\.\d MiB and is unpacked there .*nothing was downloaded or written' % re.escape(src['name']),
                     out['msg']), out['msg']
    assert 'Traceback' not in res.output
    # nothing downloaded (no GET of the backup's storage), nothing written on either site
    assert [r['path'] for r in requests_since(emulator, since) if '/_storage/' in r['path']] == []
    assert [w for w in writes_since(emulator, since) if not w.endswith('/s3token')] == []
    assert _files(emulator, dst['name'], 'dev') == before
