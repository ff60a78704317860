"""One module per `gap` subcommand; each exposes register(subparsers)."""
