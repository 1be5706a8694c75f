"""One module per `gg-research` command: `add_arguments(parser)` and `run(args) -> int`."""
