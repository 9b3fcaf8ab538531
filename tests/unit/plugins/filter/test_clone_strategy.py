# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The strategy decision of the site_clone role (pantheon.platform.clone_strategy)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.pantheon.platform.plugins.filter.clone_strategy import FilterModule, clone_strategy

MB = 1024 * 1024


def plan(sizes, **kwargs):
    return clone_strategy(sizes, **kwargs)


def methods(result):
    return [(s['step'], s['method']) for s in result['steps']]


def test_registered_as_a_filter():
    assert FilterModule().filters()['clone_strategy'] is clone_strategy


def test_small_drupal7_takes_one_whole_archive():
    result = plan({'code': 2 * MB, 'database': MB, 'files': 40 * MB}, framework='drupal', drush_major='8')
    assert result['strategy'] == 'archive'
    assert methods(result) == [('archive', 'archive_import')]
    assert result['steps'][0]['exclude_files'] is False
    assert result['estimates']['archive'] == 43 * MB
    assert '256 MB' in result['reason'] and 'Drush 8' in result['reason']
    assert result['error'] is None


def test_archive_limit_is_strict_because_256mb_files_cannot_be_written():
    exactly = plan({'code': 128 * MB, 'database': 0, 'files': 128 * MB}, framework='drupal', drush_major=8)
    assert exactly['strategy'] == 'archive_without_files'
    just_below = plan({'code': 128 * MB, 'database': 0, 'files': 128 * MB - 1}, framework='drupal', drush_major=8)
    assert just_below['strategy'] == 'archive'


def test_drupal7_files_over_the_archive_limit_split_and_import_files_by_url():
    result = plan({'code': 2 * MB, 'database': MB, 'files': 300 * MB}, framework='drupal', drush_major='8.4.8')
    assert result['strategy'] == 'archive_without_files'
    assert methods(result) == [('archive', 'archive_import'), ('files', 'url_import')]
    assert result['steps'][0]['exclude_files'] is True
    assert result['steps'][0]['elements'] == ['code', 'database']
    assert 'URL import' in result['reason']


def test_drupal7_files_over_the_url_import_limit_go_by_rsync():
    result = plan({'code': 2 * MB, 'database': MB, 'files': 501 * MB}, framework='drupal', drush_major=8)
    assert result['strategy'] == 'archive_without_files'
    assert methods(result) == [('archive', 'archive_import'), ('files', 'files_sync')]
    assert 'rsync' in result['reason']


def test_url_import_limit_is_inclusive():
    at = plan({'code': MB, 'database': 500 * MB, 'files': MB}, framework='wordpress')
    assert dict(methods(at))['database'] == 'url_import'
    over = plan({'code': MB, 'database': 500 * MB + 1, 'files': MB}, framework='wordpress')
    assert dict(methods(over))['database'] == 'database_stream'


def test_configured_limits_are_used():
    result = plan({'code': MB, 'database': MB, 'files': 3 * MB}, framework='drupal', drush_major=8,
                  archive_limit_mb=4, url_import_limit_mb=2)
    assert result['strategy'] == 'archive_without_files'
    assert methods(result)[1] == ('files', 'files_sync')
    assert '4 MB archive limit' in result['reason'] and '2 MB URL-import limit' in result['reason']


@pytest.mark.parametrize('framework', ['drupal8', 'wordpress', 'wordpress_network'])
def test_drupal8_and_wordpress_go_element_by_element(framework):
    result = plan({'code': MB, 'database': MB, 'files': MB}, framework=framework, drush_major='12')
    assert result['strategy'] == 'elements'
    assert methods(result) == [('code', 'code_push'), ('database', 'url_import'), ('files', 'url_import')]
    assert 'archive route' in result['reason']


def test_large_elements_are_streamed_and_synced():
    result = plan({'code': MB, 'database': 900 * MB, 'files': 2000 * MB}, framework='drupal8', drush_major=12)
    assert methods(result) == [('code', 'code_push'), ('database', 'database_stream'), ('files', 'files_sync')]


def test_drupal7_with_code_and_database_too_large_goes_element_by_element():
    result = plan({'code': 100 * MB, 'database': 200 * MB, 'files': MB}, framework='drupal', drush_major=8)
    assert result['strategy'] == 'elements'
    assert 'code and database alone' in result['reason']


@pytest.mark.parametrize('drush,text', [('7', 'Drush 7'), ('', 'unknown'), (None, 'unknown'), ('x', 'not understood')])
def test_drupal7_without_drush8_goes_element_by_element(drush, text):
    result = plan({'code': MB, 'database': MB, 'files': MB}, framework='drupal', drush_major=drush)
    assert result['strategy'] == 'elements'
    assert text in result['reason']


def test_archive_needs_dev_as_target():
    result = plan({'code': MB, 'database': MB, 'files': MB}, framework='drupal', drush_major=8, target_env='feature1')
    assert result['strategy'] == 'elements'
    assert 'dev only' in result['reason']


def test_unknown_sizes_never_take_a_size_limited_route():
    result = plan({}, framework='drupal', drush_major=8)
    assert methods(result) == [('code', 'code_push'), ('database', 'database_stream'), ('files', 'files_sync')]
    result = plan({'code': MB, 'database': MB, 'files': None}, framework='drupal', drush_major=8)
    assert result['strategy'] == 'archive_without_files'
    assert methods(result)[1] == ('files', 'files_sync')


def test_only_pending_elements_are_planned():
    sizes = {'code': MB, 'database': MB, 'files': MB}
    files_only = plan(sizes, framework='drupal', drush_major=8, pending=['files'])
    assert methods(files_only) == [('files', 'url_import')]
    # a site import replaces the files too, so files that already match rule the archive route out
    code_db = plan(sizes, framework='drupal', drush_major=8, pending=['database', 'code'])
    assert code_db['strategy'] == 'elements'
    assert methods(code_db) == [('code', 'code_push'), ('database', 'url_import')]
    assert 'replaces code, database and files alike' in code_db['reason'] and 'files already matches' in code_db['reason']
    nothing = plan(sizes, framework='drupal', drush_major=8, pending=[])
    assert nothing['strategy'] == 'none' and nothing['steps'] == []
    assert 'already matches' in nothing['reason']


def test_elements_limit_what_is_cloned():
    result = plan({'code': MB, 'database': MB, 'files': MB}, framework='wordpress', elements=['database', 'files'])
    assert methods(result) == [('database', 'url_import'), ('files', 'url_import')]
    result = plan({'code': MB, 'database': MB}, framework='drupal', drush_major=8, elements=['code', 'database'])
    assert result['strategy'] == 'elements'
    assert methods(result) == [('code', 'code_push'), ('database', 'url_import')]
    forced = plan({'code': MB, 'database': MB}, framework='drupal', drush_major=8, elements=['code', 'database'],
                  strategy='archive')
    assert 'not to be cloned' in forced['error']


def test_fallback_after_the_archive_was_too_large():
    sizes = {'code': MB, 'database': MB, 'files': MB}
    first = plan(sizes, framework='drupal', drush_major=8, failed=['archive'])
    assert first['strategy'] == 'archive_without_files'
    assert 'too large' in first['reason']
    second = plan(sizes, framework='drupal', drush_major=8, failed=['archive', 'archive_without_files'])
    assert second['strategy'] == 'elements'
    assert 'too large' in second['reason']


def test_an_archive_without_the_site_directory_sends_everything_element_by_element():
    sizes = {'code': MB, 'database': MB, 'files': MB}
    result = plan(sizes, framework='drupal', drush_major=8, failed=['archive_sitedir'])
    assert result['strategy'] == 'elements'
    assert methods(result) == [('code', 'code_push'), ('database', 'url_import'), ('files', 'url_import')]
    assert 'Unable to determine sites directory for self' in result['reason'] and 'sites/default' in result['reason']
    forced = plan(sizes, framework='drupal', drush_major=8, failed=['archive_sitedir'], strategy='archive')
    assert forced['strategy'] is None and 'sites/default' in forced['error']


def test_forced_elements_on_a_small_drupal7_site():
    result = plan({'code': MB, 'database': MB, 'files': MB}, framework='drupal', drush_major=8, strategy='elements')
    assert result['strategy'] == 'elements'
    assert 'strategy: elements' in result['reason']


def test_forced_archive_that_cannot_be_used_is_an_error():
    result = plan({'code': MB, 'database': MB, 'files': MB}, framework='wordpress', strategy='archive')
    assert result['strategy'] is None and result['steps'] == []
    assert 'strategy archive was requested' in result['error'] and 'WordPress' in result['error']
    too_big = plan({'code': 300 * MB, 'database': MB, 'files': MB}, framework='drupal', drush_major=8, strategy='archive')
    assert 'not below the 256 MB' in too_big['error']
    ok = plan({'code': MB, 'database': MB, 'files': 300 * MB}, framework='drupal', drush_major=8, strategy='archive')
    assert ok['strategy'] == 'archive_without_files' and ok['error'] is None


@pytest.mark.parametrize('kwargs,message', [
    (dict(strategy='fast'), 'strategy must be one of'),
    (dict(elements=['code', 'themes']), 'unknown element(s) in elements: themes'),
    (dict(elements='code'), 'must be a list'),
    (dict(elements=[]), 'at least one'),
    (dict(archive_limit_mb=0), 'archive_limit_mb must be above 0'),
    (dict(url_import_limit_mb='lots'), 'url_import_limit_mb must be an integer'),
    (dict(failed=['files']), 'failed may only name'),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message.replace('(', r'\(').replace(')', r'\)')):
        plan({'code': MB}, framework='drupal', drush_major=8, **kwargs)


@pytest.mark.parametrize('sizes,message', [
    ({'code': 'big'}, 'size of code must be a number'),
    ({'files': -1}, 'must not be negative'),
    (['code'], 'input must be a dict'),
])
def test_bad_sizes_are_named(sizes, message):
    with pytest.raises(AnsibleFilterError, match=message):
        plan(sizes, framework='drupal', drush_major=8)


def test_the_whole_archive_says_whether_the_archive_without_files_would_be_next():
    small = plan({'code': 2 * MB, 'database': MB, 'files': 40 * MB}, framework='drupal', drush_major=8)
    assert small['strategy'] == 'archive' and small['archive_fallback'] is True
    # what the archive module's fallback would make is what deciding again with failed=['archive'] takes
    again = plan({'code': 2 * MB, 'database': MB, 'files': 40 * MB}, framework='drupal', drush_major=8, failed=['archive'])
    assert again['strategy'] == 'archive_without_files' and again['archive_fallback'] is False
    # code and database unmeasured: no archive without files to fall back to
    unknown = plan({'code': None, 'database': None, 'files': None}, framework='drupal', drush_major=8)
    assert unknown['strategy'] != 'archive' and unknown['archive_fallback'] is False
    assert plan({'code': MB, 'database': MB, 'files': MB}, framework='drupal8', drush_major=12)['archive_fallback'] is False


def test_each_step_carries_its_bytes_size_and_route():
    archive = plan({'code': 2 * MB, 'database': MB, 'files': 40 * MB}, framework='drupal', drush_major='8')
    step = archive['steps'][0]
    assert (step['bytes'], step['size']) == (43 * MB, '43.0 MB')
    assert step['route'].startswith('one site archive made on the source')
    split = plan({'code': 100 * MB, 'database': 100 * MB, 'files': 600 * MB}, framework='drupal', drush_major='8')
    assert [(s['step'], s['bytes']) for s in split['steps']] == [('archive', 200 * MB), ('files', 600 * MB)]
    assert split['steps'][1]['route'] == 'the source backup, unpacked and sent by rsync'
    wordpress = plan({'code': MB, 'database': None, 'files': 2048}, framework='wordpress')
    assert [(s['step'], s['bytes'], s['size']) for s in wordpress['steps']] == \
        [('code', MB, '1.0 MB'), ('database', None, 'unknown'), ('files', 2048, '2.0 KB')]
    assert [s['route'] for s in wordpress['steps']] == [
        'git push from the source repository', 'streamed over SSH (dump on the source, import on the target)',
        'the source backup, imported by URL (do_import)']


def test_environments_of_one_site_are_copied_by_the_platform():
    # a Drupal 7 site with Drush 8 into dev would take the archive between sites; within one site, never
    same = plan({}, framework='drupal', drush_major=8, same_site=True)
    assert same['strategy'] == 'elements' and same['error'] is None
    assert [(s['step'], s['method']) for s in same['steps']] == [
        ('code', 'code_push'), ('files', 'clone_content'), ('database', 'clone_content')]
    assert 'env:clone-content' in same['reason']
    part = plan({}, framework='wordpress', pending=['database'], same_site=True)
    assert [(s['step'], s['method']) for s in part['steps']] == [('database', 'clone_content')]
    assert plan({}, framework='drupal', pending=[], same_site=True)['strategy'] == 'none'
    forced = plan({}, framework='drupal', drush_major=8, same_site=True, strategy='archive')
    assert forced['error'] and 'one site' in forced['error']


D7 = dict(framework='drupal', drush_major=8)
ALL = ['code', 'database', 'files']


def test_uncompressed_sizes_below_the_limits_are_certain():
    result = plan({'code': 2 * MB, 'database': MB, 'files': 200 * MB}, uncompressed=ALL, **D7)
    assert result['strategy'] == 'archive'
    assert result['alternative'] is None and result['depends_on'] == []
    assert result['steps'][0]['alternative'] is None
    wordpress = plan({'code': MB, 'database': 499 * MB, 'files': 500 * MB}, framework='wordpress', uncompressed=ALL)
    assert methods(wordpress) == [('code', 'code_push'), ('database', 'url_import'), ('files', 'url_import')]
    assert wordpress['alternative'] is None and [s['alternative'] for s in wordpress['steps']] == [None] * 3


def test_uncompressed_archive_just_above_the_limit_names_the_archive_as_the_alternative():
    near = plan({'code': 2 * MB, 'database': MB, 'files': 260 * MB}, uncompressed=ALL, **D7)
    assert near['strategy'] == 'archive_without_files'
    assert [(d['size'], d['if_below'], d['limit_mb']) for d in near['depends_on']] == [('archive', 'archive', 256)]
    assert near['alternative'].startswith('archive if the compressed archive is under 256 MB (about 263 MB uncompressed), '
                                          'else archive_without_files: code+database by archive_import, files by url_import')
    # the same sizes read from backups (compressed already) decide for certain
    compressed = plan({'code': 2 * MB, 'database': MB, 'files': 260 * MB}, **D7)
    assert compressed['strategy'] == 'archive_without_files' and compressed['alternative'] is None
    # a size from the latest backup (compressed) together with measured ones: still uncompressed in part
    mixed = plan({'code': 2 * MB, 'database': MB, 'files': 260 * MB}, uncompressed=['database'], **D7)
    assert mixed['depends_on'][0]['if_below'] == 'archive'


def test_uncompressed_code_and_database_above_the_archive_limit_name_both_archive_routes():
    far = plan({'code': 200 * MB, 'database': 2000 * MB, 'files': 3000 * MB}, uncompressed=ALL, **D7)
    assert far['strategy'] == 'elements'
    assert [d['if_below'] for d in far['depends_on']] == ['archive', 'archive_without_files', 'url_import', 'url_import']
    assert far['alternative'].startswith(
        'archive if the compressed archive is under 256 MB (about 5.1 GB uncompressed), else archive_without_files if '
        'the compressed code and database are under 256 MB (about 2.1 GB uncompressed), else elements: code by code_push, '
        'database by database_stream, files by files_sync; database by url_import if its compressed backup is at most 500 MB, '
        'else by database_stream (2.0 GB uncompressed); files by url_import if')
    assert [s['alternative'] for s in far['steps']][0] is None
    assert far['steps'][1]['alternative'] == ('url_import (the source backup, imported by URL (do_import)) if the '
                                              'compressed database backup is at most 500 MB')


def test_uncompressed_element_just_above_the_url_import_limit_names_the_url_import():
    near = plan({'code': MB, 'database': 500 * MB + 1, 'files': MB}, framework='wordpress', uncompressed=ALL)
    assert dict(methods(near))['database'] == 'database_stream'
    assert near['steps'][1]['alternative'].startswith('url_import')
    assert near['steps'][2]['alternative'] is None
    assert near['alternative'] == ('database by url_import if its compressed backup is at most 500 MB, else by '
                                   'database_stream (500 MB uncompressed)')
    # a Drupal 7 split: the files step after the archive without files
    split = plan({'code': MB, 'database': MB, 'files': 600 * MB}, uncompressed=['files'], **D7)
    assert methods(split) == [('archive', 'archive_import'), ('files', 'files_sync')]
    assert [d['if_below'] for d in split['depends_on']] == ['archive', 'url_import']
    assert split['steps'][1]['alternative'].startswith('url_import')


def test_routes_no_size_can_open_have_no_alternative():
    # WordPress never takes the archive, whatever its size; a forced elements plan neither
    wordpress = plan({'code': MB, 'database': MB, 'files': 300 * MB}, framework='wordpress', uncompressed=ALL)
    assert wordpress['alternative'] is None
    forced = plan({'code': MB, 'database': MB, 'files': 300 * MB}, strategy='elements', uncompressed=ALL, **D7)
    assert forced['alternative'] is None
    failed = plan({'code': MB, 'database': MB, 'files': 300 * MB}, failed=['archive'], uncompressed=ALL, **D7)
    assert failed['depends_on'] == []
    with pytest.raises(AnsibleFilterError, match='unknown element'):
        plan({'code': MB}, uncompressed=['themes'], **D7)
