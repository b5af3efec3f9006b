"""One module per subcommand; see scribe/cli.py."""
