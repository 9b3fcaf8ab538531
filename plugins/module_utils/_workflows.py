# -*- coding: utf-8 -*-
# Copyright (c) pantheon.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is for INTERNAL USE ONLY by the pantheon.platform collection.
# It may change or disappear in any release without notice.
"""The workflow engine: the one place that starts a platform workflow, adopts the one an earlier
(killed) run left behind, waits for it, and records it in one result shape.

Owners name where a workflow is posted and listed: ``('user',)``, ``('site', site_id)`` or
``('env', site_id, env)``. The history rules (which workflow types replace an element's content)
live here too, so that a module asks "what last replaced this?" rather than reading the list itself.

No Ansible imports here: the engine talks to the platform through a ``PantheonClient``.
"""

from __future__ import annotations

import json
import time

from ansible_collections.pantheon.platform.plugins.module_utils._api import ApiError
from ansible_collections.pantheon.platform.plugins.module_utils._errors import PantheonError, TransportError
from ansible_collections.pantheon.platform.plugins.module_utils._http import PollTimeout, poll

# What replaces an element's content on an environment: the newest of these decides whether an import
# (or anything else that writes the element) is already done.
REPLACES = {
    'database': ('do_import', 'do_migration', 'clone_database', 'restore_database', 'wipe'),
    'files': ('do_import', 'do_migration', 'clone_files', 'restore_files', 'wipe'),
    'site': ('do_import', 'do_migration', 'clone_database', 'clone_files', 'restore_database', 'restore_files',
             'restore_code', 'wipe'),
}

# Answers to a workflow list this user may not read: nothing is known to be running.
UNREADABLE_LIST_STATUSES = (400, 403, 404, 405)


def describe(workflow, adopted=False):
    """The one result shape of a workflow: id, type, result and its duration in seconds (from the
    platform's timestamps, else its ``total_time``); ``adopted: true`` for one an earlier run started."""
    try:
        duration = round(float(workflow['finished_at']) - float(workflow['created_at']), 1)
    except (KeyError, TypeError, ValueError):
        duration = workflow.get('total_time')
    record = dict(id=workflow.get('id'), type=workflow.get('type'), result=workflow.get('result'), duration=duration)
    if adopted:
        record['adopted'] = True
    return record


def planned(wf_type):
    """The record of a workflow check mode would start (no id, no result)."""
    return describe({'type': wf_type})


def failure_reason(workflow):
    """final_task.reason, else the last final_task.messages entry, else 'Workflow failed'."""
    final = workflow.get('final_task') or {}
    if isinstance(final, dict):
        reason = final.get('reason')
        if reason:
            return reason if isinstance(reason, str) else json.dumps(reason, sort_keys=True)
        messages = final.get('messages')
        entries = []
        if isinstance(messages, dict):
            entries = list(messages.values())
        elif isinstance(messages, list):
            entries = messages
        if entries:
            last = entries[-1]
            if isinstance(last, dict) and 'message' in last:
                last = last['message']
            if last:
                return last if isinstance(last, str) else json.dumps(last, sort_keys=True)
    return 'Workflow failed'


def describe_state(workflow):
    parts = []
    for key in ('phase', 'result'):
        if workflow.get(key) is not None:
            parts.append('%s=%s' % (key, workflow[key]))
    if workflow.get('step') is not None:
        if workflow.get('number_of_tasks'):
            parts.append('step=%s/%s' % (workflow['step'], workflow['number_of_tasks']))
        else:
            parts.append('step=%s' % workflow['step'])
    if workflow.get('active_description'):
        parts.append('active_description=%r' % workflow['active_description'])
    return ', '.join(parts) if parts else 'no state reported'


class WorkflowFailed(PantheonError):
    """A workflow finished with a result other than ``succeeded``. ``.workflow`` is the last object,
    ``.platform_reason`` what the platform said (``reason`` is ``workflow_failed``); the failure carries
    the workflow's record under ``workflow``."""

    def __init__(self, workflow):
        self.workflow = workflow
        self.platform_reason = failure_reason(workflow)
        message = 'Workflow %s (%s) %s: %s' % (workflow.get('type') or '?', workflow.get('id') or '?',
                                               workflow.get('result') or 'failed', self.platform_reason)
        super().__init__(message, reason='workflow_failed', workflow_id=workflow.get('id'),
                         workflow_type=workflow.get('type'), workflow=describe(workflow))


class WorkflowTimeout(PantheonError):
    """A workflow did not finish within the wait timeout."""

    def __init__(self, workflow, timeout):
        self.workflow = workflow
        self.timeout = timeout
        message = ('Timed out after %ss waiting for workflow %s (%s); last state: %s'
                   % (timeout, workflow.get('id') or '?', workflow.get('type') or '?', describe_state(workflow)))
        super().__init__(message, workflow_id=workflow.get('id'), workflow_type=workflow.get('type'))


def workflow_env(workflow):
    return workflow.get('environment_id') or workflow.get('environment')


def replaces(workflow, kind):
    """Whether ``workflow`` replaces (or replaced) the ``kind`` content (database, files or site)."""
    wf_type = workflow.get('type')
    if wf_type not in REPLACES[kind]:
        return False
    if wf_type == 'do_import' and kind != 'site':
        return bool((workflow.get('params') or {}).get(kind))
    return True


def _created(workflow):
    try:
        return float(workflow.get('created_at') or 0)
    except (TypeError, ValueError):
        return 0.0


class Workflows:
    """Start, adopt, wait for and record the workflows of one module run.

    ``records`` lists, in order, what this run started or waited for (:func:`describe`'s shape).
    ``timeout`` is the module's ``wait_timeout`` (each wait's bound unless one is given).
    """

    def __init__(self, client, timeout=None):
        self.client = client
        self.timeout = timeout
        self.records = []

    # ------------------------------------------------------------------ where
    def _owner_path(self, owner):
        kind = owner[0]
        if kind == 'user':
            return 'users/%s/workflows' % self.client.user_id
        if kind == 'site':
            return 'sites/%s/workflows' % owner[1]
        if kind == 'env':
            return 'sites/%s/environments/%s/workflows' % (owner[1], owner[2])
        raise ValueError('unknown workflow owner %r' % (owner,))

    def _poll_path(self, owner, workflow):
        # Site deletion is watched through the user: the site endpoint disappears.
        if owner[0] == 'user' or workflow.get('type') == 'delete_site':
            return 'users/%s/workflows/%s' % (self.client.user_id, workflow['id'])
        return 'sites/%s/workflows/%s' % (owner[1], workflow['id'])

    # ------------------------------------------------------------------ history
    def history(self, owner, types=None, strict_env=False):
        """The owner's workflows as the platform lists them (dicts with an id), of ``types`` if given.
        For an environment owner, the site's workflows of that environment (``strict_env=False``: also
        those that name no environment)."""
        if owner[0] == 'user':
            listed = self.client.user_workflows()
        else:
            listed = self.client.workflows(owner[1])
        found = []
        for wf in listed:
            if not isinstance(wf, dict) or not wf.get('id'):
                continue
            if types is not None and wf.get('type') not in types:
                continue
            if owner[0] == 'env':
                env = workflow_env(wf)
                if env != owner[2] and (strict_env or env is not None):
                    continue
            found.append(wf)
        return found

    def unfinished(self, owner, wf_type, match=None):
        """Workflows of ``wf_type`` in the owner's list that have not finished yet (``result`` unset), in
        the platform's order (newest first); ``match(workflow)`` narrows them down. A workflow list this
        user cannot read means none is known to run."""
        try:
            listed = self.history(owner if owner[0] != 'env' else ('site', owner[1]), (wf_type,))
        except ApiError as e:
            if e.status not in UNREADABLE_LIST_STATUSES:
                raise
            self.client.debug('cannot list the %s workflows (HTTP %s); assuming none is running' % (owner[0], e.status))
            return []
        return [wf for wf in listed if wf.get('result') is None and (match is None or match(wf))]

    def left_running(self, owner, wf_type, match=None):
        """The newest unfinished workflow of ``wf_type`` an earlier run left going, or None."""
        running = self.unfinished(owner, wf_type, match)
        return running[0] if running else None

    def last_replacing(self, site_id, env, kind):
        """The newest workflow on the environment that replaced (or is replacing) the ``kind`` content."""
        found = [wf for wf in self.history(('env', site_id, env), REPLACES[kind], strict_env=True) if replaces(wf, kind)]
        if not found:
            return None
        found.sort(key=_created)
        return found[-1]

    # ------------------------------------------------------------------ start
    def _find_posted(self, owner, wf_type, params, since):
        """A workflow of this type+params created since ``since`` (the one a failed POST may have made)."""
        for wf in self.history(owner, (wf_type,)):
            if (wf.get('params') or {}) != (params or {}):
                continue
            if _created(wf) >= since and wf.get('created_at') is not None:
                return wf
        return None

    def start(self, owner, wf_type, params):
        """POST {"type", "params"} to the owner's workflows URL and return the workflow object.

        A POST that fails with 5xx, 429 or no answer is retried, but only after checking that the
        failed attempt did not create the workflow anyway (then that one is returned).
        """
        client = self.client
        path = self._owner_path(owner)
        body = {'type': wf_type, 'params': params or {}}
        # Allow for clock skew between this controller and the platform.
        since = time.time() - 60
        started = client.clock()
        attempts = client.retries + 1
        attempt = 0
        while True:
            try:
                status, data = client.request('POST', path, body=body, retry=False)
                if not isinstance(data, dict) or not data.get('id'):
                    raise PantheonError('POST %s (%s) returned HTTP %s without a workflow id' % (path, wf_type, status))
                return data
            except ApiError as e:
                if e.status != 429 and e.status < 500:
                    raise
                failure = e
            except TransportError as e:
                if not e.retryable:
                    raise
                failure = e
            attempt += 1
            delay = client.next_delay(failure, attempt, attempts, started, getattr(failure, 'retry_after', None))
            if getattr(failure, 'status', None) == 429:
                # rate limited: the platform refused the request, nothing was created
                client.warn('%s; retry %d/%d in %.1fs' % (failure.message, attempt, attempts - 1, delay))
                client.sleep(delay)
                continue
            client.warn('%s; checking whether the %s workflow was created before retrying (%d/%d) in %.1fs'
                        % (failure.message, wf_type, attempt, attempts - 1, delay))
            client.sleep(delay)
            found = self._find_posted(owner, wf_type, params, since)
            if found:
                client.debug('adopting workflow %s (%s) created by an earlier attempt' % (found['id'], wf_type))
                return found

    # ------------------------------------------------------------------ wait
    def wait(self, owner, workflow, timeout=None):
        """Poll until the workflow finishes. Returns the merged workflow object on success.

        Raises WorkflowFailed (result other than succeeded) or WorkflowTimeout. Polls on the one
        schedule of ``_http.poll`` (after 1 s, every 1.5 s in the first minute, then every 5 s, never
        two polls less than the client's ``poll_interval`` apart, a last one at the deadline).
        """
        client = self.client
        timeout = self.timeout if timeout is None else timeout
        client.forget()  # the workflow changes what the lookups said
        merged = dict(workflow)
        path = self._poll_path(owner, workflow)

        def check():
            data = client.get(path)
            client.polls += 1
            if isinstance(data, dict):
                for key, value in data.items():
                    # keep attributes from earlier answers (e.g. waiting_for_task from the POST)
                    if value is None and merged.get(key) is not None and key not in ('result',):
                        continue
                    merged[key] = value
            result = data.get('result') if isinstance(data, dict) else None
            if result is not None and result != 'succeeded':
                raise WorkflowFailed(merged)
            return result is not None, merged

        try:
            return poll(check, timeout, client.poll_interval, clock=client.clock, sleep=client.sleep)
        except PollTimeout:
            raise WorkflowTimeout(merged, timeout)

    # ------------------------------------------------------------------ start/adopt + wait + record
    def record(self, workflow, adopted=False):
        record = describe(workflow, adopted)
        self.records.append(record)
        return record

    def run(self, owner, wf_type, params, timeout=None):
        """Start a workflow, wait for it and record it. Returns the finished workflow object."""
        workflow = self.wait(owner, self.start(owner, wf_type, params), timeout)
        self.record(workflow)
        return workflow

    def adopt(self, owner, workflow, timeout=None):
        """Wait for a workflow an earlier run started (and left unfinished); recorded as adopted."""
        self.client.debug('waiting for the %s workflow %s an earlier run started' % (workflow.get('type'), workflow['id']))
        if workflow.get('result') is None:
            workflow = self.wait(owner, workflow, timeout)
        elif workflow['result'] != 'succeeded':
            raise WorkflowFailed(workflow)
        self.record(workflow, adopted=True)
        return workflow

    def wait_started_by_platform(self, owner, wf_type, known_ids, label, timeout=None):
        """Wait for the ``wf_type`` workflow the platform starts by itself after an action of ours (one
        whose id is not in ``known_ids``, e.g. the ``sync_code`` after a push), then for it to finish.
        Appearing and finishing share one timeout and the one poll schedule. Recorded (not adopted)."""
        client = self.client
        timeout = self.timeout if timeout is None else timeout
        started = client.clock()

        def appeared():
            fresh = [wf for wf in self.history(owner, (wf_type,)) if wf['id'] not in known_ids]
            fresh.sort(key=_created)
            return bool(fresh), (fresh[-1] if fresh else None)

        try:
            workflow = poll(appeared, timeout, client.poll_interval, clock=client.clock, sleep=client.sleep, first=0)
        except PollTimeout:
            raise WorkflowTimeout({'id': None, 'type': wf_type, 'result': None,
                                   'active_description': 'no %s workflow appeared for %s' % (wf_type, label)}, timeout)
        if workflow.get('result') is None:
            workflow = self.wait(owner, workflow, max(timeout - (client.clock() - started), 1))
        elif workflow['result'] != 'succeeded':
            raise WorkflowFailed(workflow)
        self.record(workflow)
        return workflow
