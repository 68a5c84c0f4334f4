"""One module per subcommand, each with `run(args) -> exit code`; `cli` imports only the one chosen."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from executor_dind.process import Processed


def err(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")


def emit(processed: Processed) -> int:
    """Write what the core returned: stdout's bytes, then one stderr line per message."""
    if processed.output:
        sys.stdout.buffer.write(processed.output)
        sys.stdout.flush()
    for message in processed.messages:
        err(message)
    return processed.code
