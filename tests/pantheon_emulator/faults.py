"""Fault rules: validation, matching and the deterministic decision of what fires.

A rule::

    {"match": {"channel": "http" | "download" | "workflow" | "ssh",
               "method": "GET",            # optional; HTTP method, workflow owner or SSH user
               "path": "^/api/sites/"},    # optional regex (re.search) on the path without query,
                                           # the workflow type, or the SSH command line
     "action": {"status": 429, "retry_after": 2},   # see ACTION_KEYS
     "times": 2,          # optional: fire at most N times, then the rule is done
     "after": 1,          # optional: let the first N matching events through
     "sequence": [{"status": 503}, null, {"reset": true}],  # optional: one entry per match,
                          # null lets that event through; done when exhausted
     "probability": 0.3, "seed": 7}                # optional: fire with probability p,
                          # decided by (seed, match index) so runs repeat exactly

``{"hold": "name"}`` blocks the matched event (a workflow before it runs, an SSH command before
it starts, an HTTP request before it is answered) until a test releases the hold: tests wait for
the event to be held (``POST /_emulator/holds/{name}/wait``) instead of guessing how long a
delay must be, act (kill the client, start another run), then release it. Clearing the faults
releases every hold, so no event stays blocked after a test.

Without ``times``/``sequence`` a rule fires on every match until the faults are cleared.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time

from pantheon_emulator.store import StoreError, seeded_random

CHANNELS = ("http", "download", "workflow", "ssh")
ACTION_KEYS = {
    "status": int,             # answer with this HTTP status (429, 500, 502, 503, ...)
    "retry_after": (int, float),  # Retry-After header (seconds) with a status
    "body": object,            # response body (JSON-encoded) for a status; default a JSON string
    "reset": bool,             # close the connection without an answer
    "delay": (int, float),     # wait this many seconds first (then continue, or apply the rest)
    "truncate_after": int,     # send this many body bytes, then close the connection
    "workflow_fail": str,      # the workflow fails with this final_task.reason
    "ssh_disconnect_after": int,  # SSH: close the channel after this many output bytes
    "drush_sitedir_unknown": bool,  # SSH: Drush 8 archive-dump cannot determine the sites directory
    "hold": str,               # block the event until POST /_emulator/holds/{name}/release (see Holds)
}
HOLD_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
RULE_KEYS = {"match", "action", "times", "after", "sequence", "probability", "seed", "comment"}


def _check_action(action, where):
    if action is None:
        return None
    if not isinstance(action, dict) or not action:
        raise StoreError(f"{where}: an action must be a non-empty object")
    unknown = set(action) - set(ACTION_KEYS)
    if unknown:
        raise StoreError(f"{where}: unknown action keys {sorted(unknown)}; known: {sorted(ACTION_KEYS)}")
    for key, value in action.items():
        typ = ACTION_KEYS[key]
        if typ is not object and (not isinstance(value, typ) or (typ is int and isinstance(value, bool))):
            raise StoreError(f"{where}: action {key!r} has the wrong type ({value!r})")
    if "hold" in action and not HOLD_NAME.match(action["hold"]):
        raise StoreError(f"{where}: hold names are 1-80 letters, digits, '_', '.' or '-' ({action['hold']!r})")
    if "status" in action and not 100 <= action["status"] <= 599:
        raise StoreError(f"{where}: status {action['status']} is not an HTTP status")
    return dict(action)


def validate_rule(rule):
    """Return a normalized copy of a rule or raise StoreError naming what is wrong."""
    if not isinstance(rule, dict):
        raise StoreError("a fault rule must be an object")
    unknown = set(rule) - RULE_KEYS
    if unknown:
        raise StoreError(f"unknown fault rule keys {sorted(unknown)}; known: {sorted(RULE_KEYS)}")
    match = rule.get("match")
    if not isinstance(match, dict) or match.get("channel") not in CHANNELS:
        raise StoreError(f"fault rule needs match.channel, one of {', '.join(CHANNELS)}")
    if set(match) - {"channel", "method", "path"}:
        raise StoreError("match accepts only channel, method and path")
    if "path" in match:
        try:
            re.compile(match["path"])
        except (re.error, TypeError) as exc:
            raise StoreError(f"match.path is not a valid regular expression: {exc}") from None
    out = {"match": dict(match)}
    if "sequence" in rule:
        seq = rule["sequence"]
        if not isinstance(seq, list) or not seq:
            raise StoreError("sequence must be a non-empty list of actions (null lets an event through)")
        out["sequence"] = [_check_action(a, f"sequence[{i}]") for i, a in enumerate(seq)]
        if "action" in rule:
            raise StoreError("give either action or sequence, not both")
    else:
        out["action"] = _check_action(rule.get("action"), "action")
        if out["action"] is None:
            raise StoreError("fault rule needs an action (or a sequence)")
    for key in ("times", "after"):
        if key in rule:
            if not isinstance(rule[key], int) or isinstance(rule[key], bool) or rule[key] < (1 if key == "times" else 0):
                raise StoreError(f"{key} must be an integer (times >= 1, after >= 0)")
            out[key] = rule[key]
    if "probability" in rule:
        p = rule["probability"]
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
            raise StoreError("probability must be a number between 0 and 1")
        out["probability"] = float(p)
        out["seed"] = rule.get("seed", 0)
    if "comment" in rule:
        out["comment"] = str(rule["comment"])
    return out


# Named fault profiles: seeded, probabilistic rule sets (POST /_emulator/faults {"profile": name,
# "seed": N}). "rough" is issue 11 point 8's: about 10% of API calls answer 5xx, 5% 429 with
# Retry-After, some connections reset, downloads cut part-way, one workflow in ten fails, SSH
# transfers dropped part-way. Every decision depends only on (seed, rule, match index).
API_CALLS = r"^/api/(?!authorize/)"  # the API; the login is left alone (its retries are the client's own)
SSH_TRANSFERS = r"^(rsync --server|git-upload-pack|git-receive-pack|drush.* (sql-dump|sql:dump)|wp db export)"
PROFILES = {
    "rough": [
        ({"channel": "http", "path": API_CALLS}, {"status": 503, "retry_after": 1}, 0.05),
        ({"channel": "http", "path": API_CALLS}, {"status": 502}, 0.03),
        ({"channel": "http", "path": API_CALLS}, {"status": 500}, 0.02),
        ({"channel": "http", "path": API_CALLS}, {"status": 429, "retry_after": 1}, 0.05),
        ({"channel": "http", "path": API_CALLS}, {"reset": True}, 0.02),
        ({"channel": "download"}, {"truncate_after": 65536}, 0.3),
        ({"channel": "workflow"}, {"workflow_fail": "Injected failure (fault profile rough)"}, 0.1),
        ({"channel": "ssh", "path": SSH_TRANSFERS}, {"ssh_disconnect_after": 16384}, 0.1),
    ],
}


def profile_rules(name, seed=0):
    """The rules of the fault profile ``name`` with ``seed`` (StoreError for an unknown name)."""
    if name not in PROFILES:
        raise StoreError(f"unknown fault profile {name!r}; known: {', '.join(sorted(PROFILES))}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise StoreError("a fault profile's seed must be an integer")
    return [{"match": dict(match), "action": dict(action), "probability": p, "seed": f"{seed}:{i}",
             "comment": f"profile {name}"}
            for i, (match, action, p) in enumerate(PROFILES[name])]


def rule_matches(rule, channel, method, path):
    match = rule["match"]
    if match["channel"] != channel:
        return False
    if match.get("method") and str(match["method"]).lower() != str(method or "").lower():
        return False
    if match.get("path") and not re.search(match["path"], path or ""):
        return False
    return True


def decide(rule, index, fired):
    """(action or None, rule done?) for the ``index``-th matching event (0-based), given how many
    times the rule has fired so far."""
    after = rule.get("after", 0)
    if index < after:
        return None, False
    i = index - after
    if "sequence" in rule:
        seq = rule["sequence"]
        if i >= len(seq):
            return None, True
        return seq[i], i == len(seq) - 1
    action = rule["action"]
    if "probability" in rule:
        if seeded_random(rule.get("seed", 0), i).random() >= rule["probability"]:
            return None, False
    times = rule.get("times")
    return action, bool(times and fired + 1 >= times)


class Holds:
    """Named holds: events block in :meth:`block` / :meth:`ablock` until :meth:`release`.

    A hold counts the events that reached it and, once they were let go and handled, those that
    finished (a workflow with its result, an SSH command or HTTP request answered, or failed
    because its client had gone); once released, later events pass straight through.
    ``release_all`` (called when the faults are cleared) releases and forgets every hold.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._holds = {}

    def _entry(self, name):
        return self._holds.setdefault(name, {"reached": 0, "released": False, "finished": 0})

    def state(self):
        with self._cond:
            return {name: dict(entry) for name, entry in self._holds.items()}

    def _arrive(self, name):
        with self._cond:
            entry = self._entry(name)
            entry["reached"] += 1
            self._cond.notify_all()
            return entry

    def block(self, name):
        """Called from a worker thread (workflows): wait until ``name`` is released."""
        entry = self._arrive(name)
        with self._cond:
            self._cond.wait_for(lambda: entry["released"])

    async def ablock(self, name):
        """Called from the event loop (HTTP, SSH): wait until ``name`` is released, without
        blocking the loop (the admin calls that release it are served by the same loop)."""
        entry = self._arrive(name)
        while not entry["released"]:
            await asyncio.sleep(0.02)

    def finish(self, name):
        """The held event was handled (called by the channel once it is done with it)."""
        with self._cond:
            entry = self._holds.get(name)
            if entry is not None:
                entry["finished"] += 1
                self._cond.notify_all()

    def wait_reached(self, name, count=1, timeout=60.0, until="reached"):
        """Block until ``count`` events have reached (``until="reached"``) or finished
        (``until="finished"``) the hold; returns its state, or None on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            entry = self._entry(name)
            while entry[until] < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 1.0))
            return dict(entry)

    def release(self, name):
        with self._cond:
            entry = self._entry(name)
            entry["released"] = True
            self._cond.notify_all()
            return dict(entry)

    def release_all(self):
        with self._cond:
            for entry in self._holds.values():
                entry["released"] = True
            self._holds = {}
            self._cond.notify_all()


def holds_of(store):
    """The holds of one emulator (kept with its store, not persisted: a restart forgets them)."""
    return store.__dict__.setdefault("_fault_holds", Holds())
