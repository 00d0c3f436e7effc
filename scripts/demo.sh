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
if .venv/bin/esl-apps simulate --help >/dev/null 2>&1; then
  .venv/bin/esl-apps simulate "$@"
fi
