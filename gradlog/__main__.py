"""``python -m gradlog``."""

from gradlog.cli import main

main()
