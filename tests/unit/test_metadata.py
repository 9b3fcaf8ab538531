# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/runtime.yml's action group lists exactly the Pantheon API modules in plugins/modules, in order.

clone_state is left out on purpose: it runs on the controller and takes none of the group's options
(module_defaults for the group would pass it machine_token, which it refuses).
"""

from __future__ import annotations

import os

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTROLLER_ONLY = {'clone_state'}


def _group():
    with open(os.path.join(REPO, 'meta', 'runtime.yml'), encoding='utf-8') as f:
        return yaml.safe_load(f)['action_groups']['pantheon']


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
