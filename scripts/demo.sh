#!/usr/bin/env bash
# The main job end to end on the embedded defaults: a new workspace, the shipped sample
# document ingested, a short overnight loop with the offline proposer on synthetic data, and
# the morning report. Usage: bash scripts/demo.sh [WORKSPACE_DIR]
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
bash "$REPO/scripts/setup.sh"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False TOKENIZERS_PARALLELISM=false
WS="${1:-$(mktemp -d)/gg-demo}"
IMAGES="${GG_DEMO_IMAGES:-2000}"
EXPERIMENTS="${GG_DEMO_EXPERIMENTS:-8}"

gg-research init "$WS"
cd "$WS"
# A CPU-friendly demo: small images, and an images budget (the same work for every run however
# busy the machine is; about 35 s each on 2 idle cores, capped at 180 s). The real default
# (128 px, a 300 s time budget) stays GPU-sized.
sed -i 's/^image_size = 128$/image_size = 64/; s/^synth_size = 128$/synth_size = 64/; s/^synth_n = 400$/synth_n = 160/' gg-research.toml
sed -i "s/^budget = \"time\"$/budget = \"images\"/; s/^budget_images = 0$/budget_images = $IMAGES/; s/^budget_s = 300.0$/budget_s = 180.0/" gg-research.toml
# Three baseline seeds and the paired test against each of them (paired-all, 90 % intervals): at
# this budget Dice is bistable (2 seeds of 16 found no defect), and against such a baseline seed
# the paired test calls an unchanged train.py surely better. With every seed taking the
# baseline's place in turn, this rule kept 0.04 of unchanged runs and 0.91 of a truly better one
# (benchmarks/bench_keep_rule.py); one seed and the paired test kept 0.29 and 0.98.
sed -i 's/^test = "margin"$/test = "paired-all"/; s/^paired_level = 0.95$/paired_level = 0.9/' gg-research.toml
git commit -qam "demo: small images, an images budget and the paired-all keep test for a CPU run"

gg-research ingest "$REPO/gg_research/data/gg-net-notes.md"
gg-research search "why does PBQC collapse when the STN rotation range grows" -k 3
unset ANTHROPIC_API_KEY
gg-research loop --tag demo --proposer optuna --max-experiments "$EXPERIMENTS"
gg-research report
echo "demo workspace: $WS (open $WS/results/report.html)"
