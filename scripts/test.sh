#!/usr/bin/env bash
# The whole suite, slow tests included (as CI runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False TOKENIZERS_PARALLELISM=false
exec python3 -m pytest -q "$@"
