#!/usr/bin/env bash
# The main job on the embedded example, no FreeSWITCH or Redis needed: validate the example YAML,
# generate the FreeSWITCH dialplan into ./out/dialplan, then run one simulated call through the IVR.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || {
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
}
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q .
.venv/bin/esl-apps validate
.venv/bin/esl-apps build --out out/dialplan
# Default call: a weekday morning (business hours), silence at the recording notice (consent under
# the opt-out policy), then 1 for sales. Pass your own options to simulate another path, e.g.
#   ./scripts/demo.sh --at 2026-11-23T20:00          (after hours)
#   ./scripts/demo.sh --digits ,3,1,4111111111111111#,1228,123  (billing, card payment: recording masked)
if [ $# -eq 0 ]; then
  set -- --at 2026-11-23T10:00 --digits ,1
fi
.venv/bin/esl-apps simulate "$@"
