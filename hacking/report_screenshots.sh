#!/usr/bin/env bash
# Screenshots of the reports for docs/reports.md, taken with headless Chromium (Debian's `chromium`
# package; `pdftoppm` from poppler-utils for the printed page). Not part of `make test`.
#
#   make demo                                     # writes demo-output/reports
#   bash hacking/report_screenshots.sh [REPORT_DIR] [OUT_DIR] [FLEET_PAGE]
#
# REPORT_DIR (default demo-output/reports) holds fleet-report.html and index.html; FLEET_PAGE (default
# REPORT_DIR/fleet-report.html) is the fleet page to take, for example a run kept in REPORT_DIR/history/;
# OUT_DIR (default docs/images) receives fleet-report.png (desktop, 1440 wide), fleet-report-laptop.png (1280x800),
# fleet-report-print.png (first printed page, A4) and report-index.png (the history's index).
set -euo pipefail
cd "$(dirname "$0")/.."
REPORTS=${1:-demo-output/reports}
OUT=${2:-docs/images}
FLEET=${3:-$REPORTS/fleet-report.html}
CHROMIUM=${CHROMIUM:-chromium}

command -v "$CHROMIUM" >/dev/null || { echo "no $CHROMIUM: apt-get install -y chromium" >&2; exit 1; }
command -v pdftoppm >/dev/null || { echo "no pdftoppm: apt-get install -y poppler-utils" >&2; exit 1; }
for page in "$FLEET" "$REPORTS/index.html"; do
  [ -f "$page" ] || { echo "$page does not exist (run make demo first)" >&2; exit 1; }
done
mkdir -p "$OUT"
PROFILE=$(mktemp -d "${TMPDIR:-/tmp}/report-shots.XXXXXX")
trap 'rm -rf "$PROFILE"' EXIT

shot() {  # shot PAGE WIDTH HEIGHT PNG
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$PROFILE" \
    --window-size="$2,$3" --screenshot="$4" "file://$(realpath "$1")" >/dev/null 2>&1
  echo "$4"
}

shot "$FLEET" 1440 900 "$OUT/fleet-report.png"
shot "$FLEET" 1280 800 "$OUT/fleet-report-laptop.png"
shot "$REPORTS/index.html" 1280 400 "$OUT/report-index.png"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --user-data-dir="$PROFILE" --no-pdf-header-footer \
  --print-to-pdf="$PROFILE/print.pdf" "file://$(realpath "$FLEET")" >/dev/null 2>&1
pdftoppm -png -r 70 -f 1 -l 1 -singlefile "$PROFILE/print.pdf" "$OUT/fleet-report-print"
echo "$OUT/fleet-report-print.png"
