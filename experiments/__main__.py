"""``python -m experiments NAME [--smoke] [--seed S] [--out DIR] [key=value ...]``."""

from experiments.runner import main

raise SystemExit(main())
