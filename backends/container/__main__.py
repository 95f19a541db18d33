"""`python -m backends.container [train]`: the training image's entry point (see train.py)."""
import sys

from backends.container.train import main

sys.exit(main())
