"""The one error of reading and writing: the input is not what the protocol, YAML or Kubernetes accepts."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from executor_dind.krm.item import ResourceList


class InputError(Exception):
    """The input is not YAML, or not the shape the protocol requires.

    `resource_list`, when set, is the input as read so far: a failure output echoes it with the results.
    `messages` holds every problem found (the first is the exception's text), each one line.
    """

    def __init__(self, *messages: str, resource_list: ResourceList | None = None) -> None:
        self.messages = [" ".join(message.split("\n")) for message in messages]
        super().__init__(self.messages[0])
        self.resource_list = resource_list
