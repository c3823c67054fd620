"""`python -m bench [--profile DIR] [--work-dir DIR]`: see bench/run.py."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the helpers in tests/ start and drive the server
    sys.path.insert(0, str(ROOT))

from bench.run import main  # noqa: E402

sys.exit(main())
