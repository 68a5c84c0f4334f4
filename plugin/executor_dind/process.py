"""The pure core under the command line, in the manner of the kpt SDK's fn.Run: bytes in, bytes out.

`process(data, mode)` runs one way of use over stdin's bytes and returns stdout's bytes, the stderr lines and
the exit code; the CLI only moves bytes. Modes: "krm" (a ResourceList: the KRM function), "stream" (a YAML
stream and the config the legacy exec plugin was given), "validate" (a ResourceList: the audit as a kpt
validator).
"""

from __future__ import annotations

from executor_dind.krm.errors import InputError
from executor_dind.krm.item import Item, ResourceList
from executor_dind.krm.read import read_resource_list, read_stream
from executor_dind.krm.text import decode, encode
from executor_dind.krm.write import write_failure, write_resource_list, write_stream
from executor_dind.records import Record
from executor_dind.results import Result, has_errors, sort_results, summary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Processed(Record):
    output: bytes
    messages: tuple[str, ...]
    code: int


def warnings(results: Any) -> tuple[str, ...]:
    """One stderr line per warning: kustomize and kubectl show a plugin's stderr, and drop its KRM results."""
    return tuple(f"executor-dind: {result.line()}" for result in sort_results(results) if result.severity == "warning")


def _internal_error(error: Exception, debug: bool) -> Result:
    if debug:
        raise error
    return Result(f"internal error: {type(error).__name__}: {error} (please report this)".replace("\n", " "))


def krm(text: str, debug: bool = False) -> Processed:
    """KRM function: one ResourceList in, one out; results in it, a one-line summary on stderr."""
    from executor_dind import function

    try:
        resource_list = read_resource_list(text)
    except InputError as error:
        resource_list = error.resource_list or ResourceList("config.kubernetes.io/v1", [])
        results = [Result(message) for message in error.messages]
    else:
        try:
            outcome = function.run(resource_list.items, resource_list.function_config, file_paths=True)
        except InputError as error:  # an item the function had to read cannot be built
            outcome = function.Outcome(resource_list.items, [Result(message) for message in error.messages])
        except Exception as error:  # a bug, or items of a shape nobody expected: still answer with a result
            outcome = function.Outcome(resource_list.items, [_internal_error(error, debug)])
        results = outcome.results
        if not outcome.failed:
            resource_list.items = outcome.items
    output = None
    if not has_errors(results):
        resource_list.results = [result.to_krm() for result in sort_results(results)]
        try:
            output = write_resource_list(resource_list)
        except InputError as error:  # a kept item that must be dumped cannot be
            results = [*results, *(Result(message) for message in error.messages)]
    if output is None:
        # The input as it came, with the results: never fewer or other items than were sent.
        resource_list.results = [result.to_krm() for result in sort_results(results)]
        output = write_failure(resource_list)
    if has_errors(results):
        return Processed(encode(output), (*warnings(results), summary(results)), 1)
    return Processed(encode(output), warnings(results), 0)


def stream_outcome(outcome: Any) -> Processed:
    """A YAML stream out (legacy plugin, render): the items, or nothing and every result on stderr."""
    if outcome.failed:
        lines = (*(result.line() for result in sort_results(outcome.results)), summary(outcome.results))
        return Processed(b"", lines, 1)
    try:
        output = write_stream(outcome.items)
    except InputError as error:  # an item that must be written out cannot be
        return input_failure(error)
    return Processed(encode(output), warnings(outcome.results), 0)


def input_failure(error: InputError) -> Processed:
    """Stream modes: nothing on stdout, one stderr line per problem."""
    return Processed(b"", tuple(f"executor-dind: {message}" for message in error.messages), 1)


def rendered(items: list[Item], config: Any, config_file: str = "") -> Processed:
    """The function over items read from a stream (legacy plugin, render), as a stream; config_file is named in
    the config's errors."""
    from executor_dind import function

    try:
        return stream_outcome(function.run(items, config, config_file=config_file))
    except InputError as error:  # an item the function had to read cannot be built
        return input_failure(error)


def stream(text: str, config: Any, config_file: str = "") -> Processed:
    """Legacy exec plugin: the plugin config, and a YAML stream of the resources on stdin."""
    try:
        items = read_stream(text)
    except InputError as error:
        return input_failure(error)
    return rendered(items, config, config_file)


def validated(resource_list: ResourceList, allow_none: bool = False, allowances: Any = None) -> Processed:
    """The audit as a kpt validator: items unchanged, findings as results. allowances: the auditor's
    (allowances.Allowances), the defaults when None."""
    from executor_dind.audit import audit
    from executor_dind.audit.allowances import DEFAULT

    try:
        findings = audit(resource_list.items, allow_none, allowances=allowances or DEFAULT)
    except InputError as error:  # a workload the audit must read cannot be built
        findings = [Result(message) for message in error.messages]
        resource_list.results = [finding.to_krm() for finding in findings]
        return Processed(encode(write_failure(resource_list)), (summary(findings),), 1)
    resource_list.results = [finding.to_krm() for finding in findings]
    output = encode(write_resource_list(resource_list))
    if has_errors(findings):
        return Processed(output, (summary(findings),), 1)
    return Processed(output, (), 0)


def validate(text: str) -> Processed:
    try:
        resource_list = read_resource_list(text)
    except InputError as error:
        return input_failure(error)
    return validated(resource_list)


def krm_failure(error: InputError) -> Processed:
    """No ResourceList could be read: the results in an empty one (exit 1: kpt and kustomize write nothing)."""
    resource_list = ResourceList("config.kubernetes.io/v1", [])
    results = [Result(message) for message in error.messages]
    resource_list.results = [result.to_krm() for result in results]
    return Processed(encode(write_resource_list(resource_list)), (summary(results),), 1)


def process(
    data: bytes, mode: str = "krm", config: Any = None, config_file: str = "", debug: bool = False
) -> Processed:
    """One way of use over stdin's bytes. config and config_file: the legacy plugin's; debug: let an internal
    error raise (the CLI sets it from EXECUTOR_DIND_DEBUG: the core reads no environment)."""
    try:
        text = decode(data)
    except InputError as error:
        return krm_failure(error) if mode == "krm" else input_failure(error)
    if mode == "krm":
        return krm(text, debug)
    if mode == "stream":
        return stream(text, config, config_file)
    if mode == "validate":
        return validate(text)
    raise ValueError(f"no such mode: {mode!r}")
