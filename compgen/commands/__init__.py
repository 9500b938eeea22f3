"""One module per CLI subcommand; each exposes ``add_parser(subparsers)`` and ``run(args)``."""

# Order is the order of `cgz --help`. A module missing its optional deps still loads:
# subcommands import heavy things inside run().
COMMANDS = ["demo", "compress", "decompress", "score", "explain", "models", "sample", "train", "icl", "bench",
            "scaling"]
