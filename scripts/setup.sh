#!/usr/bin/env bash
# Installs gg-research and everything it needs (idempotent; fast when already installed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# torch/torchvision: the pair that lies on this machine's disk (see DEVELOPERS.md); on another
# machine pip resolves the range declared in pyproject.toml instead.
if ! $PY -c "import torch, torchvision" >/dev/null 2>&1; then
  $PY -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1" \
    || $PY -m pip install --quiet "torch>=2.4,<3" "torchvision>=0.19"
fi
$PY -m pip install --quiet -e ".[test]"
# Headless Chromium renders report.html in the report's browser test.
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "setup: chromium could not be installed; the browser test will skip" >&2
  fi
fi
