# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan every ansible-playbook run of the tests goes through (issue 11, point 9; tests/helpers/secrets.py):
it finds a secret in each form output can carry it (plain, URL-encoded, JSON-escaped), and its failure message
does not repeat the secret."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from helpers.secrets import assert_no_secrets, find_secrets

TOKEN = 'mt-Zx9/Ab+cd=e"f'  # characters that URL-encoding and JSON escape
ARCHIVE = '0123456789abcdef0123456789abcdef01234567'


@pytest.mark.parametrize('form', [TOKEN, urllib.parse.quote(TOKEN, safe=''), urllib.parse.quote_plus(TOKEN),
                                  json.dumps(TOKEN)[1:-1]], ids=['plain', 'quoted', 'quoted-plus', 'json'])
def test_each_form_of_a_secret_is_found_and_not_repeated(form):
    text = 'ok: [localhost]\nTASK [x]\n  "msg": "GET https://h/?t=%s failed"\n' % form
    leaks = find_secrets(text, {'machine token': TOKEN, 'archive name': ARCHIVE})
    assert [(name, line) for name, line, _context in leaks] == [('machine token', 3)]
    with pytest.raises(AssertionError) as raised:
        assert_no_secrets(text, {'machine token': TOKEN})
    assert 'machine token' in str(raised.value) and form not in str(raised.value) and TOKEN not in str(raised.value)


def test_clean_output_passes_and_a_too_short_secret_is_refused():
    assert_no_secrets('an archive is still on the source (live environment of site x)', {'archive name': ARCHIVE})
    with pytest.raises(ValueError):
        find_secrets('text', {'short': 'abc'})
