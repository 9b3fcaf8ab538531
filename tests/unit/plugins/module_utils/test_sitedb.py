# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_sitedb.DumpReader on real dumps: SQLite's iterdump and MySQL-style dumps."""

from __future__ import annotations

import io
import sqlite3

import pytest

from ansible_collections.pantheon.platform.plugins.module_utils._api import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._sitedb import DumpReader, fingerprint

MYSQL_DUMP = b"""-- MySQL dump 10.13
/*!40101 SET NAMES utf8mb4 */;
DROP TABLE IF EXISTS `node`;
CREATE TABLE `node` (
  `nid` int unsigned NOT NULL AUTO_INCREMENT,
  `title` varchar(255) NOT NULL DEFAULT '' COMMENT 'it''s (the title);',
  PRIMARY KEY (`nid`)
) ENGINE=InnoDB AUTO_INCREMENT=%d DEFAULT CHARSET=utf8mb4;
LOCK TABLES `node` WRITE;
INSERT INTO `node` VALUES (1,'Hello; (world)'),(2,'it\\'s a \\\\ test'),(3,'x),(y');
INSERT INTO `node` (`nid`, `title`) VALUES (4,'multi
line'),(5,'a:1:{s:3:\\"url\\";s:18:\\"http://example.com\\";}');
UNLOCK TABLES;
DROP TABLE IF EXISTS `cache_page`;
CREATE TABLE `cache_page` (`cid` varchar(255));
INSERT INTO `cache_page` VALUES ('p1');
"""


def _read(data, **kwargs):
    reader = DumpReader(**kwargs)
    for line in io.BytesIO(data):
        reader.feed(line)
    return reader, reader.finish()


def _sqlite_dump(rows, order=1):
    conn = sqlite3.connect(':memory:')
    conn.executescript('CREATE TABLE node(nid INTEGER PRIMARY KEY, title TEXT, body TEXT);'
                       'CREATE INDEX node_title ON node(title);'
                       'CREATE TABLE "odd name"(k TEXT PRIMARY KEY, v BLOB);')
    for row in rows[::order]:
        conn.execute('INSERT INTO node VALUES (?, ?, ?)', row)
    conn.execute('INSERT INTO "odd name" VALUES (?, ?)', ('site_name', b'\x00\xffbinary'))
    conn.commit()
    return ''.join(line + '\n' for line in conn.iterdump()).encode('utf-8')


ROWS = [(1, "semi; colon (paren)", "multi\nline 'quoted' text"), (2, 'back\\slash', None), (3, 'third', 'x')]


def test_sqlite_dump_rows_and_order_independent_checksum():
    reader, tables = _read(_sqlite_dump(ROWS))
    assert set(tables) == {'node', 'odd name'}
    assert tables['node']['rows'] == 3 and tables['odd name']['rows'] == 1
    assert reader.backslash is False
    dummy, reversed_tables = _read(_sqlite_dump(ROWS, order=-1))
    assert reversed_tables == tables


def test_one_changed_value_is_found_by_first_column():
    changed = list(ROWS)
    changed[1] = (2, 'back\\slash', 'edited')
    dummy, before = _read(_sqlite_dump(ROWS))
    dummy, after = _read(_sqlite_dump(changed))
    assert before['node']['checksum'] != after['node']['checksum']
    assert before['node']['schema'] == after['node']['schema']
    assert before['odd name'] == after['odd name']
    src, dummy = _read(_sqlite_dump(ROWS), detail_tables=['node'])
    dst, dummy = _read(_sqlite_dump(changed), detail_tables=['node'])
    src_keys = dict((digest, first) for digest, (count, first) in src.tables['node'].details.items())
    dst_keys = dict((digest, first) for digest, (count, first) in dst.tables['node'].details.items())
    assert [src_keys[d] for d in set(src_keys) - set(dst_keys)] == [b'2']
    assert [dst_keys[d] for d in set(dst_keys) - set(src_keys)] == [b'2']


def test_mysql_dump_extended_inserts_escapes_and_auto_increment():
    reader, tables = _read(MYSQL_DUMP % 6)
    assert reader.backslash is True
    assert tables['node']['rows'] == 5 and tables['cache_page']['rows'] == 1
    dummy, later = _read(MYSQL_DUMP % 99)
    assert later == tables          # AUTO_INCREMENT=N is not part of the schema
    dummy, ignored = _read(MYSQL_DUMP % 6, ignore=['cache_*'])
    assert set(ignored) == {'node'}
    assert fingerprint(tables) == fingerprint(later) != fingerprint(ignored)


def test_replacements_neutralize_url_rewrites_in_serialized_data():
    rewritten = (MYSQL_DUMP % 6).replace(b's:18:\\"http://example.com', b's:25:\\"https://new.example.org/x')
    rewritten = rewritten.replace(b'http://example.com', b'https://new.example.org/x')
    dummy, plain_src = _read(MYSQL_DUMP % 6)
    dummy, plain_dst = _read(rewritten)
    assert plain_src['node'] != plain_dst['node']
    dummy, src = _read(MYSQL_DUMP % 6, replacements=[(b'http://example.com', b'https://new.example.org/x')])
    dummy, dst = _read(rewritten, neutral_lengths=True)
    assert src == dst


def test_truncated_dump_is_an_error():
    data = MYSQL_DUMP % 6
    cut = data[:data.index(b"(3,'x")]
    reader = DumpReader()
    for line in io.BytesIO(cut):
        reader.feed(line)
    with pytest.raises(PantheonError, match='ended inside a statement'):
        reader.finish()
