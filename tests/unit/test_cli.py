"""cli: `render --config CFG [PATH ...]` read without argparse means exactly what argparse reads it as."""

from __future__ import annotations

import pytest

from executor_dind import cli


@pytest.mark.parametrize(
    "argv",
    [
        ["render", "--config", "c.yaml"],
        ["render", "--config", "c.yaml", "-"],
        ["render", "--config", "c.yaml", "a.yaml", "dir/", "-"],
        ["render", "--config", "c", "render", "audit"],
    ],
)
def test_the_plain_render_form_means_what_argparse_reads(argv):
    ours, theirs = cli._plain_render(argv), cli.parser().parse_args(argv)
    assert ours is not None
    assert (ours.command, ours.config, ours.paths) == (theirs.command, theirs.config, theirs.paths)


@pytest.mark.parametrize(
    "argv",
    [
        ["render"],
        ["render", "--config"],
        ["render", "--config", "--help"],
        ["render", "--config=c.yaml", "a.yaml"],
        ["render", "a.yaml", "--config", "c.yaml"],
        ["render", "--config", "c.yaml", "--", "-x.yaml"],
        ["render", "--config", "c.yaml", "--config", "d.yaml"],
        ["render", "--config", "c.yaml", "-h"],
        ["audit", "--config", "c.yaml"],
    ],
)
def test_every_other_shape_is_left_to_argparse(argv):
    assert cli._plain_render(argv) is None
