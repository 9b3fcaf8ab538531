# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_files: unpacking files backups safely, and reading real rsync output."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import tarfile

import pytest

from ansible_collections.pantheon.platform.plugins.module_utils._files import (
    ItemizedChanges,
    PantheonError,
    UnsafeArchive,
    extract_stream,
    gunzip_command,
    parse_stats,
    rsync_name,
)


def _archive(members):
    """gzipped tar bytes from [(name, kind, data_or_linkname)]."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == 'dir':
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == 'sym':
                info.type = tarfile.SYMTYPE
                info.linkname = data
                tar.addfile(info)
            elif kind == 'fifo':
                info.type = tarfile.FIFOTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o666
                tar.addfile(info, io.BytesIO(data))
    return io.BytesIO(gzip.compress(raw.getvalue()))


# in-process zlib, and the native decompressor files_sync runs when one is installed (gzip is, on this machine)
GUNZIPS = [pytest.param(None, id='zlib'), pytest.param(gunzip_command(), id='native')]


@pytest.mark.parametrize('gunzip', GUNZIPS)
def test_platform_backup_layout_is_unpacked_without_its_top_folder(tmp_path, gunzip):
    counts = extract_stream(_archive([
        ('files_live', 'dir', None),
        ('files_live/2024/01/Ünïcødé ñame.txt', 'file', b'hello'),
        ('files_live/empty', 'dir', None),
        ('files_live/inside-link', 'sym', '2024/01/Ünïcødé ñame.txt'),
        ('files_live/outside-link', 'sym', '../../etc/passwd'),
        ('files_live/pipe', 'fifo', None),
    ]), str(tmp_path), gunzip=gunzip)
    assert (tmp_path / '2024' / '01' / 'Ünïcødé ñame.txt').read_bytes() == b'hello'
    assert (tmp_path / 'empty').is_dir() and not (tmp_path / 'files_live').exists()
    assert os.readlink(tmp_path / 'inside-link') == '2024/01/Ünïcødé ñame.txt'
    assert not os.path.lexists(tmp_path / 'outside-link') and not os.path.exists(tmp_path / 'pipe')
    assert counts['files'] == 1 and counts['bytes'] == 5 and counts['links'] == 1 and counts['skipped'] == 2
    assert oct(os.stat(tmp_path / '2024' / '01' / 'Ünïcødé ñame.txt').st_mode & 0o777) == '0o644'


def test_archive_without_top_folder_is_kept_as_is(tmp_path):
    extract_stream(_archive([('a.txt', 'file', b'1'), ('sub/b.txt', 'file', b'2')]), str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ['a.txt', 'sub']


@pytest.mark.parametrize('gunzip', GUNZIPS)
@pytest.mark.parametrize('name', ['files_dev/../../escape.txt', '/etc/evil', '../up.txt'])
def test_unsafe_members_are_refused(tmp_path, name, gunzip):
    with pytest.raises(UnsafeArchive):
        extract_stream(_archive([('files_dev/ok.txt', 'file', b'ok'), (name, 'file', b'bad')]), str(tmp_path / 'out'),
                       gunzip=gunzip)
    assert not (tmp_path / 'escape.txt').exists() and not (tmp_path / 'up.txt').exists()


class _BrokenDownload(io.BytesIO):
    """A download that fails after its first ``after`` bytes."""

    def __init__(self, data, after):
        super().__init__(data)
        self.after = after

    def read(self, size=-1):
        if self.tell() >= self.after:
            raise PantheonError('the download broke (test)')
        return super().read(min(size if size >= 0 else self.after, self.after - self.tell()))


def test_native_gunzip_reports_bad_input_and_the_download_error(tmp_path):
    """The native decompressor: a page that is not gzip, a truncated archive and a failed download each give a clear
    error (the download's own error first)."""
    gunzip = gunzip_command()
    assert gunzip, 'gzip is installed by make setup'
    with pytest.raises(PantheonError, match='cannot be read as a gzipped tar: .*not in gzip format'):
        extract_stream(io.BytesIO(b'<html>Access denied</html>' * 100), str(tmp_path / 'a'), gunzip=gunzip)
    big = _archive([('files_live/f%d.bin' % i, 'file', os.urandom(300000)) for i in range(4)]).getvalue()
    with pytest.raises(PantheonError, match='damaged|cannot be read|failed'):
        extract_stream(io.BytesIO(big[:len(big) // 2]), str(tmp_path / 'b'), gunzip=gunzip)
    with pytest.raises(PantheonError, match='the download broke'):
        extract_stream(_BrokenDownload(big, len(big) // 2), str(tmp_path / 'c'), gunzip=gunzip)
    # the same archive whole: every member, as in-process zlib unpacks it
    counts = extract_stream(io.BytesIO(big), str(tmp_path / 'd'), gunzip=gunzip)
    assert counts['files'] == 4 and counts['bytes'] == 4 * 300000
    assert sorted(os.listdir(tmp_path / 'd')) == ['f0.bin', 'f1.bin', 'f2.bin', 'f3.bin']


def test_rsync_names_and_itemized_output_of_a_real_run(tmp_path):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    (src / 'déjà').mkdir(parents=True)
    (src / 'déjà' / 'new\nline.txt').write_text('x')
    (src / 'plain.txt').write_text('y' * 5000)
    dst.mkdir()
    (dst / 'old.txt').write_text('z')
    proc = subprocess.run(['rsync', '-rl', '--checksum', '--delete', '--info=stats2', '--itemize-changes',
                           str(src) + '/', str(dst) + '/'], capture_output=True, check=True, env=dict(os.environ, LC_ALL='C'))
    changes = ItemizedChanges()
    for line in proc.stdout.splitlines(True):
        changes.feed(line)
    assert changes.sent == 2 and changes.deleted == 1 and changes.created_dirs == 1
    assert sorted(changes.examples['sent']) == ['déjà/new\nline.txt', 'plain.txt']
    assert changes.examples['deleted'] == ['old.txt']
    stats = parse_stats(changes.stat_lines)
    assert stats['number_of_regular_files_transferred'] == 2 and stats['total_file_size'] == 5001
    assert rsync_name(b'back\\#134#303x') == 'back\\#303x'


# rsync 3.4 --info=stats2,progress2 --itemize-changes uploading six files of 20,000 bytes (captured; stats cut)
PROGRESS2_OUTPUT = (
    b'cd+++++++++ a/\n'
    b'>f+++++++++ a/f1\n'
    b'\r         20,000  16%    0.00kB/s    0:00:00  \r         20,000  16%    0.00kB/s    0:00:00 (xfr#1, to-chk=5/8)'
    b'\r         20,000  16%    0.00kB/s    0:00:00 (xfr#1, to-chk=0/8)\n'
    b'>f+++++++++ a/f2\n'
    b'\r         40,000  33%   19.07MB/s    0:00:00 (xfr#2, to-chk=4/8)\n'
    b'>f+++++++++ a/f3\n'
    b'\r         60,000  50%   38.15MB/s    0:00:00 (xfr#3, to-chk=3/8)\n'
    b'>f+++++++++ a/f4\n'
    b'\r         80,000  66%  233.44kB/s    0:00:00 (xfr#4, to-chk=2/8)\n'
    b'>f+++++++++ a/f5\n'
    b'\r        100,000  83%  124.80kB/s    0:00:00 (xfr#5, to-chk=1/8)\n'
    b'>f+++++++++ a/f6\n'
    b'\r        120,000 100%   99.65kB/s    0:00:00 (xfr#6, to-chk=0/8)\r        120,000 100%   50.26kB/s    0:00:01 (xfr#6, to-chk=0/8)\n'
    b'\n'
    b'Number of files: 8 (reg: 6, dir: 2)\n'
    b'Number of created files: 7 (reg: 6, dir: 1)\n'
    b'Number of deleted files: 0\n'
    b'Number of regular files transferred: 6\n'
    b'Total file size: 120,000 bytes\n'
)


def test_progress2_segments_are_read_as_they_arrive_and_the_rest_is_left_to_the_itemized_lines():
    from ansible_collections.pantheon.platform.plugins.module_utils._files import ItemizedChanges, rsync_output

    changes, seen = ItemizedChanges(), []
    # in pieces of 7 bytes: a line cut anywhere is put together, \\r and \\n both end one
    pieces = [PROGRESS2_OUTPUT[i:i + 7] for i in range(0, len(PROGRESS2_OUTPUT), 7)]
    rsync_output(iter(pieces), changes.feed, lambda done, percent: seen.append((done, percent)))
    assert seen[0] == (20000, 16) and seen[-1] == (120000, 100)
    assert [p for d, p in seen] == sorted(p for d, p in seen) and (60000, 50) in seen
    assert changes.sent == 6 and changes.examples['sent'] == ['a/f%d' % i for i in range(1, 7)]
    assert any(line.startswith('Total file size: 120,000') for line in changes.stat_lines)


def test_progress_that_fails_never_fails_the_transfer():
    from ansible_collections.pantheon.platform.plugins.module_utils._files import ItemizedChanges, parse_progress2, rsync_output

    def broken(done, percent):
        raise OSError('disk full')

    changes = ItemizedChanges()
    rsync_output(iter([PROGRESS2_OUTPUT]), changes.feed, broken)
    assert changes.sent == 6
    assert parse_progress2(b'>f+++++++++ 100% 1,000 0:00:00') is None
    assert parse_progress2(b'      1,234,567  35%  600.00kB/s    0:00:01 (xfr#3, ir-chk=10/40)') == (1234567, 35)
