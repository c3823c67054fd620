"""`python -m server.cli`: see `server.cli.commands`."""

import sys

from server.cli import commands

sys.exit(commands.main())
