# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The clone strategy decision of the site_clone role, as a pure function (documented in clone_strategy.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

ELEMENTS = ('code', 'database', 'files')
STRATEGIES = ('auto', 'archive', 'elements')
MIB = 1024 * 1024

# Route names, in the order the role falls back through them.
ARCHIVE = 'archive'
ARCHIVE_WITHOUT_FILES = 'archive_without_files'
# Not a route but a failure of both: Drush 8 left the site directory out of the source's archive.
ARCHIVE_SITEDIR = 'archive_sitedir'
ELEMENTWISE = 'elements'
NOTHING = 'none'


def _mb(value):
    """Bytes as a short text (1 KB = 1024 bytes, 1 MB = 1024 KB, as the platform's limits count)."""
    if value is None:
        return 'unknown'
    for unit, factor in (('GB', MIB * 1024), ('MB', MIB), ('KB', 1024)):
        if value >= factor:
            amount = value / factor
            return ('%.0f %s' if amount >= 100 else '%.1f %s') % (amount, unit)
    return '%d B' % value


def _size(sizes, element):
    value = sizes.get(element)
    if value is None or value == '':
        return None
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError('clone_strategy: the size of %s must be a number of bytes, got %r' % (element, value))
    if value < 0:
        raise AnsibleFilterError('clone_strategy: the size of %s must not be negative, got %d' % (element, value))
    return value


def _element_list(value, name):
    if value is None:
        return list(ELEMENTS)
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise AnsibleFilterError('clone_strategy: %s must be a list of elements, got %r' % (name, value))
    unknown = sorted(set(value) - set(ELEMENTS))
    if unknown:
        raise AnsibleFilterError('clone_strategy: unknown element(s) in %s: %s (choose from %s)'
                                 % (name, ', '.join(map(str, unknown)), ', '.join(ELEMENTS)))
    return [e for e in ELEMENTS if e in value]


def _positive_limit(value, name):
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError('clone_strategy: %s must be an integer number of MB, got %r' % (name, value))
    if value <= 0:
        raise AnsibleFilterError('clone_strategy: %s must be above 0, got %d' % (name, value))
    return value


def _framework_label(framework):
    return {
        'drupal': 'Drupal 7',
        'drupal8': 'Drupal 8+',
        'wordpress': 'WordPress',
        'wordpress_network': 'WordPress multisite',
    }.get(framework, framework or 'unknown framework')


FALLBACK_TEXT = {'files_sync': 'by rsync (files_sync)', 'database_stream': 'streamed over SSH (database_stream)'}


# How each method moves its elements (the route, in words), for the plan's lines
ROUTES = {
    'archive_import': 'one site archive made on the source (drush archive-dump), imported by URL (do_migration)',
    'code_push': 'git push from the source repository',
    'url_import': 'the source backup, imported by URL (do_import)',
    'files_sync': 'the source backup, unpacked and sent by rsync',
    'database_stream': 'streamed over SSH (dump on the source, import on the target)',
    'clone_content': 'copied by the platform from the source environment (clone_files, clone_database)',
}


def _annotate(steps, sizes):
    """Each step with the bytes it moves (the sum of its elements' sizes, None when one is unknown), that size
    as text, and its route in words."""
    for step in steps:
        parts = [sizes.get(e) for e in step['elements']]
        step['bytes'] = None if None in parts else sum(parts)
        step['size'] = _mb(step['bytes'])
        step['route'] = ROUTES[step['method']]
    return steps


def _url_or(element, size, url_limit, fallback):
    """Pick URL import for one element when its backup fits the URL-import limit, else the fallback."""
    if size is None:
        return fallback, '%s %s (backup size unknown, so not by URL import)' % (element, FALLBACK_TEXT[fallback])
    if size <= url_limit * MIB:
        return 'url_import', '%s by backup URL import (%s, within the %d MB URL-import limit)' % (element, _mb(size), url_limit)
    return fallback, '%s %s (its %s backup is over the %d MB URL-import limit)' % (
        element, FALLBACK_TEXT[fallback], _mb(size), url_limit)


def _archive_blocker(framework, drush_major, target_env, pending):
    """Why the Drush 8 archive route cannot be used, or None when it can."""
    if framework != 'drupal':
        return '%s sites cannot use the archive route (the platform imports Drush 8 archives of Drupal 7 sites only)' % (
            _framework_label(framework))
    if drush_major is None or str(drush_major) == '':
        return 'the Drush version of the source is unknown, and the archive route needs Drush 8'
    try:
        major = int(str(drush_major).split('.', maxsplit=1)[0])
    except ValueError:
        return 'the Drush version of the source (%s) is not understood, and the archive route needs Drush 8' % drush_major
    if major != 8:
        return 'the source runs Drush %d, and the archive route needs Drush 8' % major
    if target_env != 'dev':
        return 'the platform imports site archives into dev only, and the target environment is %s' % target_env
    missing = [e for e in ELEMENTS if e not in pending]
    if missing:
        # A site import replaces code, database and files alike (files from the archive, or none when
        # they were left out), so the route is only taken when all three are to be moved.
        return ('the site import replaces code, database and files alike, and %s already match%s the source or %s not '
                'to be cloned' % (' and '.join(missing), 'es' if len(missing) == 1 else '', 'is' if len(missing) == 1 else 'are'))
    return None


def _near_limits(result, by_element, uncompressed, archive_open, failed):
    """With sizes measured uncompressed, where the real run (deciding on gzipped backups, as large or smaller) could
    take an earlier route: each size above a limit that an uncompressed element is part of. Sets depends_on (one
    condition per such size) and alternative (the plan in words) on the result, and alternative on each step whose
    method could change; below a limit the route is certain (compression only shrinks)."""
    result['depends_on'] = []
    result['alternative'] = None
    for step in result['steps']:
        step['alternative'] = None
    if not uncompressed or result['error'] is not None or result['strategy'] in (None, NOTHING):
        return result
    archive_limit = result['archive_limit_mb']
    url_limit = result['url_import_limit_mb']
    estimates = result['estimates']

    def loose(elements, total, limit_bytes, inclusive):
        return total is not None and any(e in uncompressed for e in elements) and (
            total > limit_bytes if inclusive else total >= limit_bytes)

    earlier = []
    if archive_open and result['strategy'] != ARCHIVE:
        if ARCHIVE not in failed and loose(ELEMENTS, estimates['archive'], archive_limit * MIB, False):
            earlier.append((ARCHIVE, 'archive', 'the compressed archive is', estimates['archive']))
        if result['strategy'] == ELEMENTWISE and ARCHIVE_WITHOUT_FILES not in failed and \
                loose(('code', 'database'), estimates['archive_without_files'], archive_limit * MIB, False):
            earlier.append((ARCHIVE_WITHOUT_FILES, 'archive_without_files', 'the compressed code and database are',
                            estimates['archive_without_files']))
    for route, size_name, text, total in earlier:
        result['depends_on'].append({'size': size_name, 'uncompressed_bytes': total, 'limit_mb': archive_limit,
                                     'below': 'under', 'if_below': route})
    step_texts = []
    for step in result['steps']:
        if step['method'] not in FALLBACK_TEXT:
            continue
        element = step['elements'][0]
        if not loose((element,), by_element.get(element), url_limit * MIB, True):
            continue
        step['alternative'] = 'url_import (%s) if the compressed %s backup is at most %d MB' % (
            ROUTES['url_import'], element, url_limit)
        result['depends_on'].append({'size': element, 'uncompressed_bytes': by_element[element], 'limit_mb': url_limit,
                                     'below': 'at most', 'if_below': 'url_import'})
        step_texts.append('%s by url_import if its compressed backup is at most %d MB, else by %s (%s uncompressed)'
                          % (element, url_limit, step['method'], _mb(by_element[element])))
    parts = []
    if earlier:
        parts.append(', else '.join('%s if %s under %d MB (about %s uncompressed)' % (route, text, archive_limit, _mb(total))
                                    for route, _name, text, total in earlier)
                     + ', else %s: %s' % (result['strategy'], ', '.join(
                         '%s by %s' % ('+'.join(s['elements']), s['method']) for s in result['steps'])))
    parts.extend(step_texts)
    result['alternative'] = '; '.join(parts) or None
    return result


def clone_strategy(sizes, framework=None, drush_major=None, elements=None, pending=None, target_env='dev',
                   strategy='auto', archive_limit_mb=256, url_import_limit_mb=500, failed=None, same_site=False,
                   uncompressed=None):
    """Choose how to clone: one archive, an archive without files plus files, or element by element."""
    if sizes is None:
        sizes = {}
    sizes_by_element = dict((e, _size(sizes, e)) for e in ELEMENTS) if isinstance(sizes, dict) else {}
    uncompressed = [] if uncompressed is None else _element_list(uncompressed, 'uncompressed')
    failed_routes = list(failed or [])
    result = _decide(sizes, framework, drush_major, elements, pending, target_env, strategy, archive_limit_mb,
                     url_import_limit_mb, failed, same_site)
    archive_open = (not same_site and strategy != 'elements' and ARCHIVE_SITEDIR not in failed_routes
                    and _archive_blocker(framework, drush_major, target_env, result['pending']) is None)
    return _near_limits(result, sizes_by_element, uncompressed, archive_open, failed_routes)


def _decide(sizes, framework, drush_major, elements, pending, target_env, strategy, archive_limit_mb,
            url_import_limit_mb, failed, same_site):
    if sizes is None:
        sizes = {}
    if not isinstance(sizes, dict):
        raise AnsibleFilterError('clone_strategy: the input must be a dict of sizes in bytes (code, database, files), got %r'
                                 % type(sizes).__name__)
    if strategy not in STRATEGIES:
        raise AnsibleFilterError('clone_strategy: strategy must be one of %s, got %r' % (', '.join(STRATEGIES), strategy))
    requested = _element_list(elements, 'elements')
    if not requested:
        raise AnsibleFilterError('clone_strategy: elements must name at least one of %s' % ', '.join(ELEMENTS))
    pending = [e for e in _element_list(pending, 'pending') if e in requested] if pending is not None else requested
    archive_limit = _positive_limit(archive_limit_mb, 'archive_limit_mb')
    url_limit = _positive_limit(url_import_limit_mb, 'url_import_limit_mb')
    failed = list(failed or [])
    unknown_routes = sorted(set(failed) - {ARCHIVE, ARCHIVE_WITHOUT_FILES, ARCHIVE_SITEDIR})
    if unknown_routes:
        raise AnsibleFilterError('clone_strategy: failed may only name %s, %s and %s, got %s'
                                 % (ARCHIVE, ARCHIVE_WITHOUT_FILES, ARCHIVE_SITEDIR, ', '.join(map(str, unknown_routes))))

    code, database, files = (_size(sizes, e) for e in ELEMENTS)
    by_element = {'code': code, 'database': database, 'files': files}
    whole = None if None in (code, database, files) else code + database + files
    code_db = None if None in (code, database) else code + database
    estimates = {'archive': whole, 'archive_without_files': code_db,
                 'code': code, 'database': database, 'files': files}
    result = {'strategy': None, 'reason': '', 'steps': [], 'estimates': estimates, 'error': None,
              'pending': pending, 'archive_limit_mb': archive_limit, 'url_import_limit_mb': url_limit,
              'archive_fallback': False}

    if not pending:
        result.update(strategy=NOTHING, reason='every requested element (%s) already matches the source, nothing to move'
                      % ', '.join(requested))
        return result

    if same_site:
        # Between environments of one site the platform copies the content itself (clone_files, clone_database:
        # terminus env:clone-content): no backup, no size limit, no archive.
        if strategy == 'archive':
            result['error'] = ('strategy archive was requested, but the source and the target are environments of one '
                               'site, which the platform copies between directly')
            result['reason'] = result['error']
            return result
        steps = [{'step': 'code', 'method': 'code_push', 'elements': ['code']}] if 'code' in pending else []
        steps += [{'step': e, 'method': 'clone_content', 'elements': [e]} for e in ('files', 'database') if e in pending]
        texts = (['code by git push'] if 'code' in pending else []) + [
            '%s copied by the platform (clone_%s)' % (e, e) for e in ('files', 'database') if e in pending]
        result.update(strategy=ELEMENTWISE, steps=_annotate(steps, by_element),
                      reason='environments of one site: %s, as terminus env:clone-content does (no backup, no size limit)'
                             % '; '.join(texts))
        return result
    label = _framework_label(framework)
    blocker = _archive_blocker(framework, drush_major, target_env, pending)
    if blocker is None and ARCHIVE_SITEDIR in failed:
        blocker = ('Drush 8 on the source could not determine its sites directory ("Unable to determine sites directory '
                   'for self", Terminus issue #2580), so its archive left out sites/default (settings.php and files) '
                   'and was removed without being imported')
    if strategy == 'elements':
        blocker = 'element by element was requested (strategy: elements)'

    if blocker is None:
        limit_bytes = archive_limit * MIB
        notes = []
        if ARCHIVE not in failed:
            if whole is not None and whole < limit_bytes:
                # Should the whole archive be too large for the platform, would the archive without files be next?
                fallback = ARCHIVE_WITHOUT_FILES not in failed and code_db is not None and code_db < limit_bytes
                result.update(strategy=ARCHIVE, archive_fallback=fallback, steps=_annotate([
                    {'step': 'archive', 'method': 'archive_import', 'elements': ['code', 'database', 'files'],
                     'exclude_files': False}], by_element),
                    reason='%s with Drush 8 into dev: the whole archive (about %s: code %s, database %s, files %s) is below '
                           'the %d MB archive limit, so one archive and one site import'
                           % (label, _mb(whole), _mb(code), _mb(database), _mb(files), archive_limit))
                return result
            notes.append('the whole archive (about %s) is not below the %d MB archive limit' % (_mb(whole), archive_limit)
                         if whole is not None else 'the size of the whole archive is unknown')
        else:
            notes.append('the whole archive was too large to make on the source')
        if ARCHIVE_WITHOUT_FILES not in failed and code_db is not None and code_db < limit_bytes:
            method, text = _url_or('files', files, url_limit, 'files_sync')
            steps = [{'step': 'archive', 'method': 'archive_import', 'elements': ['code', 'database'], 'exclude_files': True},
                     {'step': 'files', 'method': method, 'elements': ['files']}]
            result.update(strategy=ARCHIVE_WITHOUT_FILES, steps=_annotate(steps, by_element),
                          reason='%s with Drush 8 into dev: %scode and database (about %s) are below the %d MB archive limit, '
                                 'so an archive without files and a site import, then %s'
                                 % (label, (notes[0] + ' but ') if notes else '', _mb(code_db), archive_limit, text))
            return result
        if ARCHIVE_WITHOUT_FILES in failed:
            notes.append('the archive without files was too large to make on the source')
        elif code_db is None:
            notes.append('the size of code and database is unknown')
        else:
            notes.append('code and database alone (about %s) are not below the %d MB archive limit' % (_mb(code_db), archive_limit))
        blocker = '; '.join(notes)
        if strategy == 'archive':
            result['error'] = 'strategy archive was requested, but %s' % blocker
            result['reason'] = result['error']
            return result
    elif strategy == 'archive':
        result['error'] = 'strategy archive was requested, but %s' % blocker
        result['reason'] = result['error']
        return result

    steps = []
    texts = []
    if 'code' in pending:
        steps.append({'step': 'code', 'method': 'code_push', 'elements': ['code']})
        texts.append('code by git push')
    if 'database' in pending:
        method, text = _url_or('database', database, url_limit, 'database_stream')
        steps.append({'step': 'database', 'method': method, 'elements': ['database']})
        texts.append(text)
    if 'files' in pending:
        method, text = _url_or('files', files, url_limit, 'files_sync')
        steps.append({'step': 'files', 'method': method, 'elements': ['files']})
        texts.append(text)
    result.update(strategy=ELEMENTWISE, steps=_annotate(steps, by_element),
                  reason='element by element because %s: %s' % (blocker, '; '.join(texts)))
    return result


class FilterModule:
    """pantheon.platform.clone_strategy"""

    def filters(self):
        return {'clone_strategy': clone_strategy}
