#!/usr/bin/env bash
# Installs gg-research and everything it needs (idempotent; fast when already installed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# torch/torchvision: the pair that lies on this machine's disk; on another
# machine pip resolves the range declared in pyproject.toml instead.
if ! $PY -c "import torch, torchvision" >/dev/null 2>&1; then
  $PY -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1" \
    || $PY -m pip install --quiet "torch>=2.4,<3" "torchvision>=0.19"
fi
# mlflow and tensorboard: the exporters' extras, which their tests read back through.
$PY -m pip install --quiet -e ".[test,parallel,mlflow,tensorboard]"
# bubblewrap boxes every run (no network, read-only workspace, hidden labels and ledger); Headless
# Chromium renders report.html in the report's browser test. Both from Debian when it is there.
need=""
command -v bwrap >/dev/null 2>&1 || need="$need bubblewrap"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
if [ -n "$need" ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null) \
    || echo "setup: could not install$need; runs are not isolated without bubblewrap, the browser test skips without chromium" >&2
fi
