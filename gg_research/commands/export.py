"""The night exported to a tracker: MLflow, TensorBoard or an Optuna study (for optuna-dashboard).

Each finished experiment of the ledger goes once: exporting again adds only what is new. The
tracker's library is an extra: pip install 'gg-research[mlflow]' (or tensorboard, optuna).
"""

from __future__ import annotations

import argparse

VIEW = {
    "mlflow": "mlflow ui --backend-store-uri {target}",
    "tensorboard": "tensorboard --logdir {target}",
    "optuna": "optuna-dashboard {target}   (pip install optuna-dashboard)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from gg_research.config import EXPORTERS

    parser.add_argument("tracker", choices=EXPORTERS, help="where the night goes")
    parser.add_argument("--tag", help="only the experiments of this loop tag (default: all)")
    parser.add_argument("--to", metavar="TARGET",
                        help="MLflow tracking URI, TensorBoard folder or Optuna storage URL (default: [export] in "
                             "gg-research.toml, else a store under results/)")


def run(args: argparse.Namespace) -> int:
    from gg_research.config import CONFIG_NAME, find_workspace, load_config
    from gg_research.loop.export import export

    workspace = find_workspace()
    config = load_config(workspace / CONFIG_NAME)
    done = export(args.tracker, workspace, config, args.tag, args.to)
    print(f"{done.kind}: {len(done.added)} experiment(s) added, {done.present} already there: {done.target}")
    print(f"view it: {VIEW[done.kind].format(target=done.target)}")
    return 0
