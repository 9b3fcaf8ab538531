#!/usr/bin/env bash
# `make demo`: clone a small fleet end to end against the local Pantheon emulator.
#
#   1. start the emulator (tests/pantheon_emulator) with its demo fleet, in a temporary data
#      directory, shrunk by DEMO_SCALE (the platform's 256MB archive and 500MB URL-import limits
#      shrink with it, so every strategy is still exercised: a small Drupal 7 site -> one archive;
#      Drupal 7 with files over the archive limit -> archive without files + files by URL import;
#      Drupal 7 with files over the URL-import limit -> archive without files + rsync; Drupal 10
#      and WordPress -> element by element);
#   2. write an inventory with one clone job per site and run playbooks/clone_fleet.yml;
#   3. print the summary and the path of the HTML report, and stop the emulator.
#
# Settings: DEMO_SCALE (default 0.04), DEMO_FORKS (parallel clones, default 3), DEMO_OUTPUT
# (reports and inventory, default ./demo-output), DEMO_KEEP=1 keeps the emulator's data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
SCALE=${DEMO_SCALE:-0.04}
FORKS=${DEMO_FORKS:-3}
OUT=${DEMO_OUTPUT:-$ROOT/demo-output}

log() { printf '==> %s\n' "$*" >&2; }

[ -x "$PY" ] || { log "no virtualenv in .venv; run 'make demo' (it sets one up) or 'make setup' first"; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pantheon-demo.XXXXXX")
EMU_PID=
cleanup() {
  local rc=$?
  if [ -n "$EMU_PID" ] && kill -0 "$EMU_PID" 2>/dev/null; then
    log "stopping the emulator (pid $EMU_PID)"
    kill -TERM "$EMU_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$EMU_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$EMU_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -s "$WORK/emulator.log" ]; then
    mkdir -p "$OUT" && cp "$WORK/emulator.log" "$OUT/emulator.log" && log "emulator log: $OUT/emulator.log"
  fi
  if [ "${DEMO_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$OUT"
mkdir -p "$OUT"

log "starting the Pantheon emulator with the demo fleet (scale $SCALE)"
PYTHONPATH=$ROOT/tests "$PY" -m pantheon_emulator serve --data-dir "$WORK/data" --fleet demo --scale "$SCALE" \
  --exports >"$WORK/emulator.out" 2>"$WORK/emulator.log" &
EMU_PID=$!
for _ in $(seq 1 600); do
  grep -q '^export PANTHEON_SSH_PORT=' "$WORK/emulator.out" 2>/dev/null && break
  kill -0 "$EMU_PID" 2>/dev/null || { log "the emulator stopped while starting:"; tail -20 "$WORK/emulator.log" >&2; exit 1; }
  sleep 0.2
done
grep -q '^export PANTHEON_SSH_PORT=' "$WORK/emulator.out" || { log "the emulator did not start in 120s"; exit 1; }
# shellcheck disable=SC1091
source <(grep '^export ' "$WORK/emulator.out")
ADMIN_URL=$(head -1 "$WORK/emulator.out" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["admin_url"])')

log "trusting a fresh SSH key"
mkdir -p "$WORK/ssh"
ssh-keygen -q -t ed25519 -N '' -C pantheon-demo -f "$WORK/ssh/id_ed25519"
: >"$WORK/ssh/known_hosts"
"$PY" - "$ADMIN_URL" "$PANTHEON_CA_PATH" "$WORK/ssh/id_ed25519.pub" <<'PY'
import sys
import requests
admin, ca, pub = sys.argv[1:4]
with requests.Session() as s:
    s.trust_env = False
    r = s.post(admin + '/ssh-keys', json={'public_key': open(pub).read().strip()}, verify=ca, timeout=60)
    r.raise_for_status()
PY
export PANTHEON_SSH_KEY=$WORK/ssh/id_ed25519 PANTHEON_SSH_KNOWN_HOSTS=$WORK/ssh/known_hosts

# The emulator shrank its limits by SCALE; the role's limits follow (whole MB, rounded down).
ARCHIVE_MB=$("$PY" -c "import sys; print(max(1, int(256 * float(sys.argv[1]))))" "$SCALE")
URL_MB=$("$PY" -c "import sys; print(max(1, int(500 * float(sys.argv[1]))))" "$SCALE")
cat >"$OUT/inventory.yml" <<EOF
# One host per clone job; its variables are the site_clone role's arguments (docs/fleet.md).
all:
  vars:
    site_clone_source_env: live
    site_clone_target_env: dev
    site_clone_report_dir: $OUT/reports
    clone_fleet_report_dir: $OUT/reports
    # The demo emulator shrinks the platform's limits by $SCALE.
    site_clone_archive_limit_mb: $ARCHIVE_MB
    site_clone_url_import_limit_mb: $URL_MB
  hosts:
    demo-d7-small:
      site_clone_source_site: demo-d7-small
      site_clone_target_site: demo-d7-small-clone
    demo-d7-large:
      site_clone_source_site: demo-d7-large
      site_clone_target_site: demo-d7-large-clone
    demo-d7-huge:
      site_clone_source_site: demo-d7-huge
      site_clone_target_site: demo-d7-huge-clone
    demo-d10:
      site_clone_source_site: demo-d10
      site_clone_target_site: demo-d10-clone
    demo-wp:
      site_clone_source_site: demo-wp
      site_clone_target_site: demo-wp-clone
EOF

# The collection from this checkout (ansible_collections/pantheon/platform -> the repository).
COLL=$ROOT/.tmp/collections
mkdir -p "$COLL/ansible_collections/pantheon"
ln -sfn "$ROOT" "$COLL/ansible_collections/pantheon/platform"

log "cloning 5 sites with playbooks/clone_fleet.yml ($FORKS at a time)"
set +e
# Live: one line per phase of each clone (callback pantheon.platform.progress), and from the default
# callback only what changed or failed; the same lines go to ansible.log.
ANSIBLE_COLLECTIONS_PATH=$COLL ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=0 \
  ANSIBLE_INVENTORY_UNPARSED_WARNING=0 ANSIBLE_RETRY_FILES_ENABLED=0 \
  ANSIBLE_CALLBACKS_ENABLED=pantheon.platform.progress ANSIBLE_DISPLAY_OK_HOSTS=false \
  ANSIBLE_DISPLAY_SKIPPED_HOSTS=false ANSIBLE_DISPLAY_INCLUDED_HOSTS=false \
  "$ROOT/.venv/bin/ansible-playbook" -i "$OUT/inventory.yml" "$ROOT/playbooks/clone_fleet.yml" -f "$FORKS" -e clone_fleet_concurrency="$FORKS" \
  2>&1 | tee "$OUT/ansible.log"
rc=${PIPESTATUS[0]}
set -e

echo
if [ -s "$OUT/reports/fleet-report.txt" ]; then
  cat "$OUT/reports/fleet-report.txt"
  echo
  echo "Per-site reports: $OUT/reports/<job>.json"
  echo "HTML report:      $OUT/reports/fleet-report.html"
  echo "Ansible log:      $OUT/ansible.log"
else
  tail -40 "$OUT/ansible.log"
fi
if [ "$rc" -ne 0 ]; then
  log "clone_fleet.yml failed (exit $rc); see $OUT/ansible.log"
fi
exit "$rc"
