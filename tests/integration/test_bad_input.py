# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input, table-driven (issue 11, point 7): every case fails with a message that names the
problem (a regex per case), no traceback at -vvv, and no change on either site, proven from the
emulator's request log (per case: no write, no workflow, no SSH command that writes) and from its
state (every environment's content, the sites' workflows and the list of sites, before and after
the whole table).

Module cases run in-process against the emulator (helpers.modules, verbosity 3 as -vvv passes it:
a module that fails with an exception would return its traceback there). The role and playbook
cases run in ONE ansible-playbook run of playbooks/clone_fleet.yml, one host per case. The outcome
of each case goes to .tmp/reliability/bad_input.json for docs/reliability.md.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import urllib.parse
import uuid

import pytest

from helpers.modules import run_module_main
from reliability_helpers import PlatformSnapshot, record
from site_clone_helpers import requests_since, run_fleet, writes_since
from transfer_helpers import play_env, seed, upload_file

# Names the cases use; each stands for a seeded site (see `world`) or a prepared value.
SRC, TGT, WP, FRESH, COLD, HIDDEN = 'SRC', 'TGT', 'WP', 'FRESH', 'COLD', 'HIDDEN'
# a Drupal 10 source whose files (1.2 MB) go by files_sync (above a 1 MB URL import limit), with a finished backup
# the measure reuses, and a Drupal 10 target holding content (overwrite allowed, not backed up): staging case
BIG, BIG_TGT = 'BIG', 'BIG_TGT'
# hosted on SRC's dev web (sites/default/files/...): files that are not what their use needs
HOSTED = {
    'notes.txt': b'just some text, not an archive\n' * 20,
    'dump.sql': b'-- MySQL dump\nCREATE TABLE `t` (`a` int);\nINSERT INTO `t` VALUES (1);\n',
    'notsql.sql.gz': gzip.compress(b'lorem ipsum dolor sit amet\n' * 200),
    'page.html': b'<!DOCTYPE html>\n<html><head><title>Downloads</title></head><body>Sign in</body></html>\n',
    'files.tar.gz': gzip.compress(b'not a tar stream, although gzip\n' * 50),
}

# (id, module, args, regex the message must match, environment overrides)
# In args: SRC/TGT/WP/FRESH/COLD are site names; 'URL:<file>' a hosted file's URL; 'URL:404' a
# missing one; 'URL:HOME' SRC dev's home page (HTML, status 200); 'URL:EXPIRED' an expired signed URL
# of SRC live's database backup; 'BACKUP:<site>' {site, env: live} of a site's backups.
MODULE_CASES = [
    # -- malformed and unknown names, source equal to target
    ('name-malformed', 'backup', dict(site='Not A Site!'), r"'Not A Site!' is not a valid Pantheon site name", {}),
    ('name-unknown', 'cache_clear', dict(site='UNKNOWN'), r"Could not find a site named or identified by '\S+-unknown'", {}),
    ('name-unknown-uuid', 'backup', dict(site='00000000-0000-4000-8000-000000000000'),
     r'Could not find a site .*00000000-0000-4000-8000-000000000000', {}),
    ('name-empty', 'backup_info', dict(site=''), r'site name or UUID is required', {}),
    ('site-create-malformed', 'site', dict(name='Upper_Case'), r"'Upper_Case' is not a valid Pantheon site name", {}),
    ('site-create-leading-dash', 'site', dict(name='-abc'), r"'-abc' is not a valid Pantheon site name", {}),
    ('code-push-same-env', 'code_push', dict(site=SRC, env='dev', target_site=SRC, target_env='dev'),
     r'(?i)same', {}),
    ('verify-same-env', 'clone_verify', dict(site=SRC, env='live', target_site=SRC, target_env='live'),
     r'(?i)same', {}),
    # -- unknown or uninitialized environments, refused before any workflow is posted
    ('env-unknown', 'backup', dict(site=SRC, env='nosuch'), r'has no nosuch environment', {}),
    ('env-malformed', 'cache_clear', dict(site=SRC, env='Bad_Env'), r'env must be an environment name', {}),
    ('env-unknown-target', 'code_push', dict(site=SRC, env='live', target_site=TGT, target_env='md1'),
     r'has no md1 environment', {}),
    ('env-uninitialized-backup', 'backup', dict(site=FRESH, env='live'), r'(?i)live.*not (been )?initialized', {}),
    ('env-uninitialized-cache', 'cache_clear', dict(site=FRESH, env='test'), r'(?i)test.*not (been )?initialized', {}),
    ('env-uninitialized-import', 'site_import', dict(site=FRESH, env='test', kind='database', url='URL:dump.sql'),
     r'(?i)test.*not (been )?initialized', {}),
    ('env-uninitialized-files', 'files_sync', dict(site=FRESH, env='live', backup='BACKUP:SRC'),
     r'(?i)live.*not (been )?initialized', {}),
    ('env-uninitialized-db', 'database_stream', dict(site=FRESH, env='live', backup='BACKUP:SRC'),
     r'(?i)live.*not (been )?initialized', {}),
    ('env-uninitialized-source', 'clone_verify', dict(site=FRESH, env='live', target_site=TGT, target_env='dev'),
     r'(?i)live.*not (been )?initialized', {}),
    # -- a frozen source or target, for every module that writes
    ('frozen-backup', 'backup', dict(site=COLD, env='dev'), r'Site \S+ is frozen', {}),
    ('frozen-cache', 'cache_clear', dict(site=COLD, env='dev'), r'Site \S+ is frozen', {}),
    ('frozen-import', 'site_import', dict(site=COLD, env='dev', kind='database', url='URL:dump.sql'),
     r'Site \S+ is frozen', {}),
    ('frozen-files', 'files_sync', dict(site=COLD, env='dev', backup='BACKUP:SRC'), r'Site \S+ is frozen', {}),
    ('frozen-db', 'database_stream', dict(site=COLD, env='dev', backup='BACKUP:SRC'), r'Site \S+ is frozen', {}),
    ('frozen-search-replace', 'wp_search_replace',
     dict(site=COLD, env='dev', search='https://a.example', replace='https://b.example'), r'Site \S+ is frozen', {}),
    ('frozen-archive-source', 'archive', dict(site=COLD, env='dev'), r'Site \S+ is frozen', {}),
    ('frozen-code-target', 'code_push', dict(site=SRC, env='live', target_site=COLD, target_env='dev'),
     r'Site \S+ is frozen', {}),
    # -- mismatched frameworks
    ('framework-code', 'code_push', dict(site=SRC, env='live', target_site=WP, target_env='dev'),
     r'frameworks differ: \S+ is drupal and \S+ is wordpress', {}),
    ('framework-db', 'database_stream', dict(site=WP, env='dev', backup='BACKUP:SRC'), r'frameworks differ', {}),
    ('framework-files', 'files_sync', dict(site=WP, env='dev', backup='BACKUP:SRC'), r'frameworks differ', {}),
    ('framework-verify', 'clone_verify', dict(site=SRC, env='live', target_site=WP, target_env='dev'),
     r'frameworks differ: \S+ is drupal and \S+ is wordpress', {}),
    ('framework-search-replace', 'wp_search_replace',
     dict(site=TGT, env='dev', search='https://a.example', replace='https://b.example'), r'runs drupal, not WordPress', {}),
    ('framework-archive', 'archive', dict(site=WP, env='dev'), r'(?i)wordpress', {}),
    # -- http, file and ftp URLs
    ('url-http', 'site_import', dict(site=TGT, kind='database', url='http://example.com/db.sql.gz'),
     r'allow_insecure_url', {}),
    ('url-file', 'site_import', dict(site=TGT, kind='files', url='file:///etc/passwd'), r'https:// URL', {}),
    ('url-ftp', 'site_import', dict(site=TGT, kind='site', url='ftp://example.com/site.tgz'), r'https:// URL', {}),
    ('url-file-db', 'database_stream', dict(site=TGT, url='file:///etc/passwd'), r'http:// or https:// URL', {}),
    ('url-ftp-files', 'files_sync', dict(site=TGT, url='ftp://example.com/files.tar.gz'),
     r'http:// or https:// URL', {}),
    # -- URLs answering 404, or an HTML page with 200: the content is looked at before importing
    ('url-404-import', 'site_import', dict(site=TGT, kind='database', url='URL:404'), r'404', {}),
    ('url-404-db', 'database_stream', dict(site=TGT, url='URL:404'), r'404', {}),
    ('url-html-import', 'site_import', dict(site=TGT, kind='database', url='URL:HOME'), r'(?i)html', {}),
    ('url-html-db', 'database_stream', dict(site=TGT, url='URL:page.html'), r'(?i)html', {}),
    ('url-html-files', 'files_sync', dict(site=TGT, url='URL:HOME'), r'(?i)html', {}),
    # -- expired signed URLs
    ('url-expired-import', 'site_import', dict(site=TGT, kind='database', url='URL:EXPIRED'),
     r'(?i)expired', {}),
    ('url-expired-db', 'database_stream', dict(site=TGT, url='URL:EXPIRED'), r'(?i)expired', {}),
    # -- out-of-range sizes and timeouts, wrong types
    ('size-type', 'site_import', dict(site=TGT, kind='database', url='URL:dump.sql', max_size_mb='big'),
     r"max_size_mb.*int", {}),
    ('size-negative', 'site_import', dict(site=TGT, kind='database', url='URL:dump.sql', max_size_mb=-5),
     r'max_size_mb', {}),
    ('keep-for-range', 'backup', dict(site=TGT, keep_for=0), r'keep_for', {}),
    ('reuse-within-negative', 'backup', dict(site=TGT, reuse_within=-1), r'reuse_within', {}),
    ('timeout-negative', 'cache_clear', dict(site=TGT, wait_timeout=-1), r'wait_timeout', {}),
    ('timeout-type', 'backup', dict(site=TGT, wait_timeout='soon'), r"wait_timeout.*int", {}),
    ('verify-timeout-zero', 'clone_verify', dict(site=SRC, env='live', target_site=TGT, target_env='dev', timeout=0),
     r'timeout', {}),
    ('verify-max-differences', 'clone_verify', dict(site=SRC, env='live', target_site=TGT, target_env='dev',
                                                    max_differences=-3), r'max_differences', {}),
    ('ssh-port-range', 'files_sync', dict(site=TGT, backup='BACKUP:SRC', ssh_port=70000), r'ssh_port', {}),
    ('elements-choice', 'backup', dict(site=TGT, elements=['themes']), r'elements.*themes|themes.*elements', {}),
    ('kind-choice', 'site_import', dict(site=TGT, kind='everything', url='URL:dump.sql'), r'kind', {}),
    # -- a missing token, a wrong token, a wrong CA, an unreadable key and a changed host key
    ('token-missing', 'backup', dict(site=TGT), r'(?i)machine token',
     {'PANTHEON_MACHINE_TOKEN': None, 'TERMINUS_MACHINE_TOKEN': None}),
    ('token-wrong', 'backup', dict(site=TGT), r'(?i)machine token .*(refused|invalid|rejected)',
     {'PANTHEON_MACHINE_TOKEN': 'not-the-right-token-0123456789'}),
    ('ca-wrong', 'cache_clear', dict(site=TGT), r'(?i)certificate', {'PANTHEON_CA_PATH': 'CA:OTHER'}),
    ('ca-missing', 'cache_clear', dict(site=TGT), r'(?i)ca_path', {'PANTHEON_CA_PATH': '/nonexistent/ca.pem'}),
    ('key-unusable', 'files_sync', dict(site=TGT, backup='BACKUP:SRC'), r'(?i)load key|ssh_private_key',
     {'PANTHEON_SSH_KEY': 'KEY:GARBAGE'}),
    ('key-unreadable', 'database_stream', dict(site=TGT, backup='BACKUP:SRC'), r'ssh_private_key \S+ cannot be read',
     {'PANTHEON_SSH_KEY': 'KEY:UNREADABLE'}),
    ('key-missing', 'code_push', dict(site=SRC, env='live', target_site=TGT, target_env='dev'),
     r'(?i)ssh_private_key', {'PANTHEON_SSH_KEY': '/nonexistent/id_ed25519'}),
    ('host-key-changed', 'files_sync', dict(site=TGT, backup='BACKUP:SRC'), r'(?i)host key',
     {'PANTHEON_SSH_KNOWN_HOSTS': 'KNOWN:CHANGED'}),
    # -- files that are not archives, dumps that are not gzip or not SQL
    ('files-not-archive', 'files_sync', dict(site=TGT, url='URL:notes.txt'), r'(?i)not a .*archive|tar', {}),
    ('files-gzip-not-tar', 'files_sync', dict(site=TGT, url='URL:files.tar.gz'), r'(?i)not a .*archive|tar', {}),
    ('import-files-not-archive', 'site_import', dict(site=TGT, kind='files', url='URL:notes.txt'),
     r'(?i)not a .*archive|tar', {}),
    ('import-site-not-archive', 'site_import', dict(site=TGT, kind='site', url='URL:notes.txt'),
     r'(?i)not a .*archive|tar', {}),
    ('db-not-gzip-import', 'site_import', dict(site=TGT, kind='database', url='URL:notes.txt'),
     r'(?i)gzip|sql', {}),
    ('db-not-sql', 'database_stream', dict(site=TGT, url='URL:notsql.sql.gz'), r'(?i)not .*sql|sql dump', {}),
    ('db-not-gzip', 'database_stream', dict(site=TGT, url='URL:notes.txt'), r'(?i)not .*(sql|gzip)', {}),
]


@pytest.fixture(scope='module')
def world(emulator, tmp_path_factory):
    """The seeded sites, the hosted files and the prepared values the cases refer to."""
    prefix = 'bad%s-' % uuid.uuid4().hex[:6]
    drupal = {'framework': 'drupal', 'envs': ['dev', 'test', 'live'], 'db': {'nodes': 4},
              'files': {'count': 3, 'size': 500}}
    sites = seed(emulator, [
        dict(drupal, name=prefix + 'src', backups=[{'env': 'live', 'elements': ['database', 'files']}]),
        dict(drupal, name=prefix + 'tgt'),
        {'name': prefix + 'wp', 'framework': 'wordpress', 'envs': ['dev', 'test', 'live'], 'db': {'posts': 4},
         'files': {'count': 3, 'size': 500}},
        dict(drupal, name=prefix + 'fresh', initialized=False),
        dict(drupal, name=prefix + 'cold', frozen=True),
        # another user's site: this user can neither see it nor take its name (only create_site says so)
        dict(drupal, name=prefix + 'hidden', envs=['dev'], owner='other-%s@example.com' % prefix.rstrip('-')),
        dict(drupal, name=prefix + 'big', framework='drupal8',
             files={'count': 2, 'size': 500, 'big': [{'name': 'media/clip.bin', 'size': 1258291, 'compressible': False}]},
             backups=[{'env': 'live', 'elements': ['code', 'database', 'files']}]),
        dict(drupal, name=prefix + 'big-tgt', framework='drupal8', envs=['dev']),
    ], seed_value=11)
    names = {SRC: prefix + 'src', TGT: prefix + 'tgt', WP: prefix + 'wp', FRESH: prefix + 'fresh',
             COLD: prefix + 'cold', HIDDEN: prefix + 'hidden', 'UNKNOWN': prefix + 'unknown',
             BIG: prefix + 'big', BIG_TGT: prefix + 'big-tgt'}
    src = sites[names[SRC]]
    for name, data in HOSTED.items():
        upload_file(emulator, src['id'], 'dev', name, data)
    web = emulator.web_url(names[SRC], 'dev')
    urls = dict(('URL:' + name, '%s/sites/default/files/%s' % (web, name)) for name in HOSTED)
    urls['URL:404'] = '%s/sites/default/files/missing.sql.gz' % web
    urls['URL:HOME'] = web + '/'
    work = tmp_path_factory.mktemp('bad-input')
    with emulator.limits(signed_url_ttl=0):  # Expires = int(now): already past when used
        api = emulator.api()
        catalog = api.get('%s/sites/%s/environments/live/backups/catalog' % (emulator.api_url, src['id']),
                          timeout=60).json()
        folder = [v['folder'] for k, v in catalog.items() if k.endswith('_database') and v.get('filename')][0]
        urls['URL:EXPIRED'] = api.post('%s/sites/%s/environments/live/backups/catalog/%s/database/s3token' % (
            emulator.api_url, src['id'], folder), json={'method': 'get'}, timeout=60).json()['url']
    garbage = work / 'garbage_key'
    garbage.write_text('this is not a private key\n')
    garbage.chmod(0o600)
    # a directory: unreadable as a key file also for root (who reads any file whatever its mode)
    unreadable = work / 'key_directory'
    unreadable.mkdir()
    known = work / 'known_hosts'
    # the emulator's SSH host, recorded with another key: as if the host key had changed
    known.write_text('[%s]:%s ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n'
                     % (emulator.ssh_host, emulator.ssh_port))
    # a well-formed key the platform does not know (not registered with the account): SSH refuses it
    refused = work / 'refused_key'
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(refused)], check=True)
    # one fleet job runs its modules with that key: its Python (clone_fleet_python) is this wrapper
    python = work / 'python-refused-key'
    python.write_text('#!/bin/sh\nPANTHEON_SSH_KEY=%s exec %s "$@"\n' % (refused, sys.executable))
    python.chmod(0o700)
    other_ca = work / 'other-ca.pem'
    other_ca.write_text(open('/etc/ssl/certs/ca-certificates.crt', encoding='ascii').read())
    values = dict(urls)
    values.update({'KEY:REFUSED': str(refused), 'PYTHON:REFUSED-KEY': str(python), 'KEY:GARBAGE': str(garbage),
                   'KEY:UNREADABLE': str(unreadable), 'KNOWN:CHANGED': str(known), 'CA:OTHER': str(other_ca)})
    return {'names': names, 'values': values, 'sites': list(sites.values()), 'work': work}


def _resolve(value, world):
    names, values = world['names'], world['values']
    if isinstance(value, dict):
        return dict((k, _resolve(v, world)) for k, v in value.items())
    if isinstance(value, list):
        return [_resolve(v, world) for v in value]
    if isinstance(value, str):
        if value.startswith('BACKUP:'):
            return {'site': names[value[len('BACKUP:'):]], 'env': 'live'}
        return values.get(value, names.get(value, value))
    return value


def _texts(result):
    """Everything a user would see of a failed result at -vvv: the message and any traceback."""
    return json.dumps(result)


@pytest.fixture(scope='module')
def outcomes():
    found = {}
    yield found
    # one file per pytest worker (each runs part of the table); the report merges them
    record('bad_input-%s' % os.environ.get('PYTEST_XDIST_WORKER', 'main'),
           {'cases': found, 'module_cases': len(MODULE_CASES), 'role_cases': len(ROLE_CASES)})


@pytest.fixture(scope='module')
def untouched(emulator, world):
    """The state of every seeded site before the table; after it, the same (checked once, at the end)."""
    snap = PlatformSnapshot(emulator, world['sites'])
    yield snap
    after = snap.changes()
    changes = [c for c in after if not c.startswith(('logged: ', 'sites: '))]
    if any(c.startswith('sites: ') for c in after):
        now = set(s['name'] for s in emulator.admin('GET', 'state/sites').json())
        changes += ['site created: %s' % n for n in sorted(now - set(snap.before['sites']))]
        changes += ['site removed: %s' % n for n in sorted(set(snap.before['sites']) - now)]
    assert changes == [], 'the bad-input cases changed the platform:\n' + '\n'.join(changes)


@pytest.mark.parametrize('case', MODULE_CASES, ids=[c[0] for c in MODULE_CASES])
def test_module_refuses_bad_input(emulator, world, untouched, outcomes, tmp_path, case):
    case_id, module, args, pattern, env = case
    args = _resolve(args, world)
    args['_ansible_verbosity'] = 3
    full_env = play_env(emulator, tmp_path)
    full_env.update(_resolve(env, world))
    since = untouched.since = requests_since(emulator, 0)[-1]['id']
    result, _stdout, stderr = run_module_main(module, args, env=full_env)
    # a signed URL for a backup (POST .../s3token) changes nothing
    writes = [w for w in writes_since(emulator, since) if not w.endswith('/s3token')]
    message = result.get('msg', '')
    outcomes[case_id] = {'module': module, 'failed': bool(result.get('failed')), 'message': message,
                         'matches': bool(re.search(pattern, message)), 'writes': writes,
                         'traceback': 'Traceback' in _texts(result) + stderr}
    assert result.get('failed'), 'accepted: %s' % json.dumps(result)[:3000]
    assert re.search(pattern, message), 'message %r does not match %r' % (message, pattern)
    assert 'Traceback' not in _texts(result) + stderr and 'exception' not in result, result
    assert writes == [], writes
    posted = [r['path'] for r in requests_since(emulator, since)
              if r['channel'] == 'api' and r['method'] == 'POST' and r['path'].endswith('/workflows')]
    assert posted == [], posted
    hidden = urllib.parse.urlsplit(world['values']['URL:EXPIRED']).query
    assert hidden not in message


# (job, its variables, regex its report's error must match). One clone_fleet.yml run, one host per
# job (the play's strategy is free; forks as many as jobs). SRC/TGT/... as above; NEW:<x> a name
# no site has.
ROLE_CASES = [
    ('same-environment', dict(site_clone_source_site=SRC, site_clone_source_env='dev', site_clone_target_site=SRC,
                              site_clone_target_env='dev'), r'same environment \(\S+-src\.dev\)'),
    ('target-env-missing', dict(site_clone_source_site=SRC, site_clone_target_site=TGT, site_clone_target_env='md7'),
     r'no md7 environment.*site_clone_target_env_create'),
    ('multidev-reserved-name', dict(site_clone_source_site=SRC, site_clone_target_site=TGT,
                                    site_clone_target_env='settings', site_clone_target_env_create=True),
     r"'settings' is reserved"),
    ('no-source', dict(site_clone_source_site='UNKNOWN', site_clone_target_site='NEW:x1'), r'does not exist'),
    ('missing-source', dict(site_clone_target_site='NEW:x2'), r'site_clone_source_site'),
    ('malformed-target', dict(site_clone_source_site=SRC, site_clone_target_site='Bad Name'),
     r"'Bad Name' is not a valid Pantheon site name"),
    ('malformed-source-env', dict(site_clone_source_site=SRC, site_clone_source_env='Bad_Env',
                                  site_clone_target_site='NEW:x3'), r'no Bad_Env environment|environment name'),
    ('unknown-source-env', dict(site_clone_source_site=SRC, site_clone_source_env='md9', site_clone_target_site='NEW:x4'),
     r'no md9 environment|md9.*(does not exist|not found|unknown)'),
    ('uninitialized-source-env', dict(site_clone_source_site=FRESH, site_clone_source_env='live',
                                      site_clone_target_site='NEW:x5'), r'live.*not (been )?initialized'),
    ('uninitialized-target-env', dict(site_clone_source_site=SRC, site_clone_target_site=FRESH,
                                      site_clone_target_env='test', site_clone_elements=['database']),
     r'test.*not (been )?initialized'),
    ('frozen-source', dict(site_clone_source_site=COLD, site_clone_source_env='dev', site_clone_target_site='NEW:x6'),
     r'source site \S+ is frozen|Site \S+ is frozen'),
    ('frozen-target', dict(site_clone_source_site=SRC, site_clone_target_site=COLD), r'target site \S+ is frozen'),
    ('archive-on-wordpress', dict(site_clone_source_site=WP, site_clone_target_site='NEW:x7',
                                  site_clone_strategy='archive'), r'strategy archive was requested.*WordPress'),
    ('code-to-live', dict(site_clone_source_site=SRC, site_clone_target_site=TGT, site_clone_target_env='live'),
     r'Code cannot be pushed to live'),
    ('bad-element', dict(site_clone_source_site=SRC, site_clone_target_site='NEW:x8',
                         site_clone_elements=['code', 'themes']), r'site_clone_elements.*themes'),
    ('wrong-framework', dict(site_clone_source_site=SRC, site_clone_target_site=WP, site_clone_elements=['database']),
     r'frameworks must match'),
    ('strategy-choice', dict(site_clone_source_site=SRC, site_clone_target_site='NEW:x11', site_clone_strategy='fastest'),
     r'site_clone_strategy.*fastest|fastest.*site_clone_strategy'),
    ('limit-negative', dict(site_clone_source_site=SRC, site_clone_target_site='NEW:x12', site_clone_archive_limit_mb=-1),
     r'limits must be above 0.*archive_limit_mb=-1'),
    ('limit-type', dict(site_clone_source_site=SRC, site_clone_target_site='NEW:x13', site_clone_url_import_limit_mb='lots'),
     r'site_clone_url_import_limit_mb'),
    ('timeout-zero', dict(site_clone_source_site=SRC, site_clone_target_site='NEW:x14', site_clone_wait_timeout=0),
     r'site_clone_wait_timeout|wait_timeout'),
    # issue 11.3: refused before the first write (the source is not backed up, no site is created)
    ('unknown-organization', dict(site_clone_source_site=SRC, site_clone_target_site='NEW:x9',
                                  site_clone_organization='no-such-org'), r'(?i)organization.*no-such-org'),
    ('unknown-upstream', dict(site_clone_source_site=SRC, site_clone_target_site='NEW:x10',
                              site_clone_upstream='no-such-upstream'), r'(?i)upstream.*no-such-upstream'),
    # a name held by a site this user cannot see: create_site, tried as the first write, refuses it
    ('hidden-taken-name', dict(site_clone_source_site=SRC, site_clone_target_site=HIDDEN),
     r'name \S+-hidden is taken by a site this user may not access'),
    # a key the platform refuses: said before the first write, naming site.env and the key
    ('ssh-key-refused', dict(site_clone_source_site=SRC, site_clone_target_site='NEW:x15',
                             clone_fleet_python='PYTHON:REFUSED-KEY'),
     r'Cannot reach \S+-src\.live over SSH with the key \S+refused_key: .*key was refused'),
    # local disk for staging, checked once the measure knows the files' size, before the lock and any content
    # moves: /proc is a filesystem with no free space (statvfs: 0 blocks available). The measure reuses the
    # seeded backup and the target is not backed up (site_clone_overwrite_backup: false), and the locks are off,
    # so that nothing at all is written before the refusal.
    ('staging-disk-full', dict(site_clone_source_site=BIG, site_clone_target_site=BIG_TGT,
                               site_clone_url_import_limit_mb=1, site_clone_staging_dir='/proc/pantheon-staging',
                               site_clone_overwrite=True, site_clone_overwrite_backup=False, site_clone_lock=False,
                               site_clone_backup_reuse_minutes=600),
     r'/proc has 0\.0 MiB free, but the files backup of \S+-big\.live is 1\.\d MiB and is unpacked there'),
]


@pytest.fixture(scope='module')
def fleet_run(emulator, world, tmp_path_factory):
    """ONE clone_fleet.yml run of every role case: (result, fleet report, {site: its changes})."""
    tmp_path = tmp_path_factory.mktemp('bad-input-fleet')
    prefix = world['names'][SRC][:-len('src')]
    jobs = {}
    for job, variables, _pattern in ROLE_CASES:
        jobs[job] = dict((k, prefix + v[len('NEW:'):] if isinstance(v, str) and v.startswith('NEW:')
                          else _resolve(v, world)) for k, v in variables.items())
    reports = tmp_path / 'reports'
    snaps = dict((site['name'], PlatformSnapshot(emulator, [site])) for site in world['sites'])
    res = run_fleet(emulator, tmp_path, jobs, {'site_clone_report_dir': str(reports)}, forks=len(jobs))
    with open(reports / 'fleet-report.json', encoding='utf-8') as f:
        data = json.load(f)
    changes = dict((name, [c for c in snap.changes() if not c.startswith('logged: ')]) for name, snap in snaps.items())
    writes = next(iter(snaps.values())).writes()
    return res, data, changes, writes


def _check_jobs(cases, data, outcomes):
    by_job = dict((site['job'], site) for site in data['sites'])
    failures = []
    for job, _variables, pattern in cases:
        message = ((by_job.get(job) or {}).get('error') or {}).get('message') or ''
        ok = bool(re.search(pattern, message)) and 'Traceback' not in message
        outcomes['role:' + job] = {'module': 'site_clone role (clone_fleet.yml)', 'failed': job in by_job and
                                   by_job[job].get('status') == 'failed', 'message': message, 'matches': ok,
                                   'writes': [], 'traceback': 'Traceback' in message}
        if not ok:
            failures.append('%s: %r does not match %r' % (job, message, pattern))
    return failures


def test_role_and_playbook_refuse_bad_input(emulator, world, fleet_run, outcomes):
    res, data, changes, writes = fleet_run
    assert _check_jobs(ROLE_CASES, data, outcomes) == []
    jobs = len(ROLE_CASES)
    assert res.rc != 0 and len(data['sites']) == jobs, res.output[-3000:]
    assert data['totals']['failed'] == jobs
    assert re.search(r'%d of %d clone\(s\) failed' % (jobs, jobs), res.output)
    assert 'Traceback' not in res.output
    # no content, workflow or site changed or created (no source backed up, no target created); the one write
    # logged is the create_site the hidden-taken-name case tried, which the platform refused
    assert dict((k, v) for k, v in changes.items() if v) == {}
    # (besides it, the staging-disk-full case's overwrite phase read the target's tables: SHOW TABLES through drush
    # sql:query, which the request log cannot tell from a write; its target's state is unchanged, checked above)
    assert [w for w in writes if w != 'SSH drush sql:query'] == ['POST /api/users/%s/workflows' % emulator.user_id], writes
