# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The step engine (_module.Step, PantheonModule.run_step): what a module declares (current, desired,
apply, preview) and what the engine does with it - check mode never applies (it previews), nothing to
change never applies, a refusal in desired writes nothing, diff only with --diff and never a registered
secret - through a real PantheonModule exiting as Ansible runs it (no API is reached: the step reads
nothing)."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.pantheon.platform.plugins.module_utils._errors import PantheonError
from ansible_collections.pantheon.platform.plugins.module_utils._module import Lookup, PantheonModule, Step

SECRET = 'https://store.example.com/archives/old-site_live_database.sql.gz?Signature=s3cr3t-signature'


class Recorded(Step):
    """A thing with a ``size``: ``have`` is what the platform holds, ``want`` what is asked."""

    supports_diff = True
    calls = []

    def current(self):
        self.calls.append('current')
        return None if self.params['have'] is None else dict(size=self.params['have'], url=SECRET)

    def desired(self, current):
        self.calls.append('desired')
        if self.params['want'] < 0:
            raise PantheonError('want must not be negative, got %s' % self.params['want'], reason='invalid_option')
        return dict(size=self.params['want'], url=SECRET)

    def apply(self, current, desired):
        self.calls.append('apply')
        return dict(applied=True, size=desired['size'])

    def preview(self, current, desired):
        self.calls.append('preview')
        return dict(would_apply=True)

    def result(self, current, desired):
        return dict(applied=False, size=(current or {}).get('size'))


def run(args, check_mode=False, diff=False, step=Recorded, secret=True):
    """Run a PantheonModule with ``step``; returns (result, calls made on the step)."""
    args = dict(args, machine_token='machine-token-UNIT-0123456789', api_url='http://127.0.0.1:9/api')
    args.update(_ansible_check_mode=check_mode, _ansible_diff=diff)
    step.calls = []
    out = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        module = PantheonModule(argument_spec=dict(have=dict(type='int'), want=dict(type='int', required=True)),
                                supports_check_mode=True)
        if secret:
            module.add_secret(SECRET)
        module.run_step(step)
    return json.loads(out.getvalue()), step.calls


def test_apply_runs_when_the_state_differs_and_its_keys_win():
    out, calls = run(dict(have=1, want=2))
    assert calls == ['current', 'desired', 'apply'] and 'would_apply' not in out
    assert out['changed'] is True and out['applied'] is True and out['size'] == 2 and 'diff' not in out


def test_check_mode_reports_the_change_and_never_applies():
    out, calls = run(dict(have=1, want=2), check_mode=True)
    assert calls == ['current', 'desired', 'preview'] and out['changed'] is True and out['would_apply'] is True
    assert out['applied'] is False and out['size'] == 1


def test_nothing_to_change_never_applies():
    out, calls = run(dict(have=2, want=2))
    assert calls == ['current', 'desired'] and out['changed'] is False and out['applied'] is False
    assert run(dict(have=2, want=2), check_mode=True)[1] == ['current', 'desired']


def test_a_refusal_in_desired_writes_nothing_and_fails_cleanly():
    out, calls = run(dict(have=1, want=-1))
    assert calls == ['current', 'desired']
    assert out['failed'] is True and out['msg'] == 'want must not be negative, got -1' and out['reason'] == 'invalid_option'


def test_diff_only_with_diff_and_without_the_secret():
    out, dummy = run(dict(have=None, want=3), check_mode=True, diff=True)
    assert out['diff']['before'] is None and out['diff']['after']['size'] == 3
    shown = json.dumps(out)
    assert 's3cr3t' not in shown and 'old-site_live' not in shown and 'store.example.com' in shown
    out, dummy = run(dict(have=1, want=3), diff=True)
    assert out['diff']['before']['size'] == 1 and out['diff']['after']['size'] == 3 and 's3cr3t' not in json.dumps(out)
    # no diff without --diff, nor when nothing changes, nor from a step that does not support it
    assert 'diff' not in run(dict(have=1, want=3), check_mode=True)[0]
    assert 'diff' not in run(dict(have=3, want=3), diff=True)[0]

    class NoDiff(Recorded):
        supports_diff = False
    assert 'diff' not in run(dict(have=1, want=3), diff=True, step=NoDiff)[0]


def test_an_action_step_and_its_context():
    class Action(Recorded):
        entered = []

        def changed(self, current, desired):
            return True

        def within(self, sequence):
            self.entered.append('in')
            result = sequence()
            self.entered.append('out')
            return result

    out, calls = run(dict(have=2, want=2), step=Action)
    assert calls == ['current', 'desired', 'apply'] and out['changed'] is True and Action.entered == ['in', 'out']


def test_an_unexpected_exception_leaves_through_the_edge():
    class Broken(Recorded):
        def apply(self, current, desired):
            raise KeyError('environment_id')

    out, calls = run(dict(have=1, want=2), step=Broken)
    assert out['failed'] is True and out['msg'] == "Unexpected error (KeyError): 'environment_id'"
    assert 'Traceback' not in json.dumps(out)


class Looked(Lookup):
    """A read-only step: what it reads is the result; it has no apply to call."""

    calls = []

    def current(self):
        self.calls.append('current')
        if self.params['want'] < 0:
            raise PantheonError('nothing to read at %s' % SECRET)
        return dict(size=self.params['have'], changed=True)


@pytest.mark.parametrize('check_mode', [False, True])
def test_a_lookup_returns_what_it_read_unchanged_in_check_mode_too(check_mode):
    out, calls = run(dict(have=3, want=0), check_mode=check_mode, step=Looked)
    assert calls == ['current']
    # what the read said is the result, never a change (a "changed" it carried is overruled)
    assert out['size'] == 3 and out['changed'] is False and 'failed' not in out


def test_a_lookup_that_fails_says_why_without_the_secret():
    out, calls = run(dict(have=3, want=-1), step=Looked)
    assert calls == ['current'] and out['failed'] is True
    assert out['msg'].startswith('nothing to read at https://store.example.com/') and 's3cr3t' not in out['msg']
