"""The command-line tools: all printing, argument parsing and exit codes live here."""
