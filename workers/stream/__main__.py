"""`python -m workers.stream [--group G]` = `finsent worker stream`, with only the `worker`
command loaded (the full CLI also loads the model code, seconds of imports a stream worker
never uses)."""

import sys

from workers.cli import main

sys.exit(main(["worker", "stream", *sys.argv[1:]], command_modules=("workers.commands.worker",)))
