#!/usr/bin/env bash
# Sets up (see setup.sh), lints (ruff), type-checks (mypy, strict on loop/, harness/, results/) and
# runs the whole suite, slow tests included, as CI does; the fast checks first, so they fail first.
# Extra arguments go to pytest (e.g. -m "not slow" locally). GG_SKIP_SETUP=1 skips the install.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${GG_SKIP_SETUP:-0}" != "1" ]; then bash scripts/setup.sh; fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False TOKENIZERS_PARALLELISM=false
python3 -m ruff check .
python3 scripts/typecheck.py
exec python3 -m pytest -q "$@"
