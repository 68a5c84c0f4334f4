"""executor-dind: Sourcegraph executors with a hardened Docker-in-Docker sidecar, as a KRM function."""

__version__ = "0.1.0"
