# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/runtime.yml's action groups list exactly the modules that take their options, in order.

group pantheon: the Pantheon API modules in plugins/modules (the auth options). clone_state is left out
on purpose: it runs on the controller and takes none of the group's options (module_defaults for the
group would pass it machine_token, which it refuses).
group ssh: the modules that document the ssh options (validate-modules checks that the documented
options are the argument spec), so that module_defaults for either group is valid for each member.
"""

from __future__ import annotations

import os

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTROLLER_ONLY = {'clone_state'}


def _group(name='pantheon'):
    with open(os.path.join(REPO, 'meta', 'runtime.yml'), encoding='utf-8') as f:
        return yaml.safe_load(f)['action_groups'][name]


def _fragments(name):
    with open(os.path.join(REPO, 'plugins', 'modules', name + '.py'), encoding='utf-8') as f:
        text = f.read()
    doc = yaml.safe_load(text.split("DOCUMENTATION = r\'\'\'", 1)[1].split("\'\'\'", 1)[0])
    return doc.get('extends_documentation_fragment', [])


def _modules():
    folder = os.path.join(REPO, 'plugins', 'modules')
    return sorted(n[:-3] for n in os.listdir(folder)
                  if n.endswith('.py') and not n.startswith('_') and n[:-3] not in CONTROLLER_ONLY)


def test_action_group_is_sorted():
    group = _group()
    assert group == sorted(group)


def test_every_module_is_in_the_action_group():
    missing = sorted(set(_modules()) - set(_group()))
    assert not missing, 'modules missing from meta/runtime.yml action_groups.pantheon: %s' % missing


def test_every_action_group_entry_is_a_module():
    extra = sorted(set(_group()) - set(_modules()))
    assert not extra, 'meta/runtime.yml action_groups.pantheon lists modules that do not exist: %s' % extra


def test_every_module_documents_the_action_group():
    folder = os.path.join(REPO, 'plugins', 'modules')
    for name in _modules():
        with open(os.path.join(folder, name + '.py'), encoding='utf-8') as f:
            text = f.read()
        assert 'pantheon.platform.attributes.actiongroup' in text, '%s does not use the actiongroup doc fragment' % name


def test_ssh_group_is_sorted():
    group = _group('ssh')
    assert group == sorted(group)


def test_each_group_is_exactly_the_modules_taking_its_options():
    for group, fragment in (('pantheon', 'pantheon.platform.auth'), ('ssh', 'pantheon.platform.ssh')):
        taking = sorted(name for name in _modules() if fragment in _fragments(name))
        assert _group(group) == taking, 'group %s must list the modules using %s' % (group, fragment)


def test_ssh_modules_document_both_groups():
    for name in _modules():
        fragments = _fragments(name)
        expected = ('pantheon.platform.attributes.actiongroup_ssh' if 'pantheon.platform.ssh' in fragments
                    else 'pantheon.platform.attributes.actiongroup')
        assert expected in fragments, '%s should use the %s doc fragment' % (name, expected)
