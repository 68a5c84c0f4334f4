"""One module per subcommand, each with `run(args) -> exit code`; `cli` imports only the one chosen."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from executor_dind.process import Processed


def err(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")


def failed(error: Exception) -> int:
    """One stderr line for a refusal of ours or a file that cannot be written; exit code 1."""
    if isinstance(error, OSError):
        err(f"executor-dind: {error.filename}: cannot be written ({error.strerror}): choose a writable directory")
    else:
        err(f"executor-dind: {error}")
    return 1


def config_refused(config: object, path: str) -> bool:
    """Whether the config file is invalid, said one stderr line a problem naming the file, the object and the
    field (the function's own results name only the object: a KRM caller knows the file, a person may not)."""
    from executor_dind.function_config import config_ref, config_results, parse_function_config
    from executor_dind.records import ConfigError

    try:
        parse_function_config(config)  # type: ignore[arg-type]
    except ConfigError as error:
        ref = config_ref(config)
        what = f" ({ref.describe()})" if ref is not None else ""
        for result in config_results(error, config):
            err(f"executor-dind: error {path}{what}: {result.message.removeprefix('invalid functionConfig: ')}")
        return True
    return False


def emit(processed: Processed) -> int:
    """Write what the core returned: stdout's bytes, then one stderr line per message."""
    if processed.output:
        try:
            sys.stdout.buffer.write(processed.output)
            sys.stdout.flush()
        except OSError as error:  # a full disk, a closed pipe: the output is incomplete, so the run failed
            err(f"executor-dind: stdout: cannot be written ({error.strerror}): the output is incomplete")
            return 1
    for message in processed.messages:
        err(message)
    return processed.code
