"""GG-Net, the research target's frozen parts: G-code parsing and rendering, the synthetic
dataset, the dataset format and loader, PBQC and Dice, warp helpers, and the baseline
`train.py` template that `gg-research init` copies into a workspace."""
