# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_sitedb.DumpReader on what mysqldump really writes (MariaDB, Drush's dump options): extended
inserts, escapes, raw binary bytes, CR LF and emoji in text, a multi-MB line, a trigger and a view
with DEFINERs, LOCK TABLES, and MariaDB's sandbox-mode first line."""

from __future__ import annotations

import contextlib
import subprocess

import pytest

from ansible_collections.pantheon.platform.plugins.module_utils._sitedb import DumpReader

mariadb = pytest.importorskip('pantheon_emulator.mariadb')

BIG = 3 * 1024 * 1024
TEXT = 'Caf\u00e9 \U0001F680 \u65e5\u672c\u8a9e\r\nsecond line\r\n; (paren) it\'s a \\ "quoted" \x1a end'
BINARY = bytes(range(256)) + b"\r\n\x00'\"\\;),("


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    srv = mariadb.Server(tmp_path_factory.mktemp('mariadb'))
    srv.ensure()
    yield srv
    srv.stop()


def _database(server, name, order=1, change=None):
    with contextlib.closing(server.connect()) as conn, conn.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS `%s`' % name)
        cur.execute('CREATE DATABASE `%s` CHARACTER SET utf8mb4' % name)
        cur.execute('USE `%s`' % name)
        cur.execute('CREATE TABLE `node` (`nid` int unsigned NOT NULL AUTO_INCREMENT, `title` varchar(255) NOT NULL, '
                    '`body` longtext, PRIMARY KEY (`nid`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4')
        cur.execute('CREATE TABLE `cache_bootstrap` (`cid` varchar(255) NOT NULL, `data` longblob, '
                    'PRIMARY KEY (`cid`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4')
        rows = [(i, 'title %d %s' % (i, TEXT[:20]), TEXT * (i % 3)) for i in range(1, 301)]
        if change:
            rows[change - 1] = (change, 'changed', TEXT)
        cur.executemany('INSERT INTO node VALUES (%s, %s, %s)', rows[::order])
        blobs = [('bin', BINARY), ('big', (BINARY * (BIG // len(BINARY) + 1))[:BIG])]
        cur.executemany('INSERT INTO cache_bootstrap VALUES (%s, %s)', blobs[::order])
        cur.execute("CREATE DEFINER=`root`@`localhost` TRIGGER node_touch BEFORE UPDATE ON node FOR EACH ROW "
                    "BEGIN SET NEW.title = CONCAT(NEW.title, ''); SET NEW.body = NEW.body; END")
        cur.execute('CREATE DEFINER=`root`@`localhost` VIEW `published` AS SELECT nid, title FROM node')


def _dump(server, name):
    argv = server.client_argv('mysqldump', *mariadb.DUMP_OPTIONS, name)
    return subprocess.run(argv, capture_output=True, check=True).stdout


def _read(dump):
    reader = DumpReader()
    for line in dump.splitlines(True):
        reader.feed(line)
    return reader.finish()


def test_real_mysqldump_output_is_summarized(server):
    _database(server, 'reader_a')
    dump = _dump(server, 'reader_a')
    # what makes this dump real: mysqldump's own header, extended inserts, raw bytes, a multi-MB line
    assert dump.startswith(b'/*M!999999\\- enable the sandbox mode */') or dump.startswith(b'-- MariaDB dump')
    assert b'LOCK TABLES `node` WRITE;' in dump and b'DELIMITER ;;' in dump and b'DEFINER=`root`@`localhost`' in dump
    assert dump.count(b'INSERT INTO `node` VALUES') < 300, 'extended inserts'
    assert max(len(line) for line in dump.splitlines()) > BIG, 'a multi-MB line'
    tables = _read(dump)
    assert sorted(tables) == ['cache_bootstrap', 'node']
    assert tables['node']['rows'] == 300 and tables['cache_bootstrap']['rows'] == 2


def test_checksums_follow_content_not_order_or_auto_increment(server):
    _database(server, 'reader_a')
    _database(server, 'reader_b', order=-1)
    _database(server, 'reader_c', change=150)
    a, b, c = (_read(_dump(server, name)) for name in ('reader_a', 'reader_b', 'reader_c'))
    assert a == b, 'same rows inserted in another order: same summary'
    assert c['node']['rows'] == a['node']['rows'] and c['node']['checksum'] != a['node']['checksum']
    assert c['cache_bootstrap'] == a['cache_bootstrap'] and c['node']['schema'] == a['node']['schema']


def test_a_dump_imported_by_mysql_reads_the_same(server):
    """Round trip through the mysql client (as an import does): every byte kept, so equal summaries."""
    _database(server, 'reader_a')
    dump = _dump(server, 'reader_a')
    with contextlib.closing(server.connect()) as conn, conn.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS reader_copy')
        cur.execute('CREATE DATABASE reader_copy CHARACTER SET utf8mb4')
    subprocess.run(server.client_argv('mysql', 'reader_copy'), input=dump, check=True)
    assert _read(_dump(server, 'reader_copy')) == _read(dump)
    with contextlib.closing(server.connect('reader_copy')) as conn, conn.cursor() as cur:
        cur.execute("SELECT body FROM node WHERE nid = 1")
        assert cur.fetchone()[0] == TEXT
        cur.execute("SELECT data FROM cache_bootstrap WHERE cid = 'bin'")
        assert cur.fetchone()[0] == BINARY
