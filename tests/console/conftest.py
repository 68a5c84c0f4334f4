"""The unit tests' upstream component fixture, for the console tests of the conflict with it."""

from unit.conftest import upstream_component  # noqa: F401 - registers the fixture here
