"""`python -m distflow ...` runs the `distflow` command (see distflow/cli.py)."""
import sys

from distflow.cli import main

sys.exit(main())
