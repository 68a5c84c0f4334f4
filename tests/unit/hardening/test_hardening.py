"""The control table: one uniform record per module, baseline included; profiles and explicit enabled."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

from executor_dind import hardening
from executor_dind.hardening import Hardening, baseline, gvisor
from executor_dind.hardening.common import PROFILES, Control, snake_case
from executor_dind.spec import Spec

from ..helpers import spec


def test_every_control_module_declares_one_control_registered_once():
    package = hardening.__path__
    # a control's rules may live in its companion <module>_audit
    modules = {name for _, name, _ in pkgutil.iter_modules(package)} - {"common"}
    modules -= {name for name in modules if name.endswith("_audit")}
    registered = [control.apply.__module__.rsplit(".", 1)[1] for control in hardening.CONTROLS]
    assert sorted(registered) == sorted(modules)
    for control in hardening.CONTROLS:
        module = importlib.import_module(control.apply.__module__)
        assert module.CONTROL is control
        assert isinstance(control, Control)
        assert control.check.__module__ in (module.__name__, "executor_dind.hardening.common")
        assert all(rule.check.__module__ in (module.__name__, module.__name__ + "_audit") for rule in control.rules)
        assert control.does and control.guarantees and control.requires
        assert set(control.profiles) <= set(PROFILES)


def test_baseline_is_first_always_on_and_has_no_settings():
    assert hardening.CONTROLS[0] is baseline.CONTROL
    assert baseline.CONTROL.settings is None
    assert baseline.CONTROL.profiles == PROFILES
    for profile in PROFILES:
        assert hardening.enabled(spec(hardening={"profile": profile}))[0] is baseline.CONTROL


def test_each_control_owns_its_settings_record_under_spec_hardening():
    for control in hardening.CONTROLS[1:]:
        assert control.settings.__module__ == control.apply.__module__
        assert Hardening._field_defaults[snake_case(control.id)] == control.settings()
        assert control.settings_of(Spec()) == control.settings()
    assert list(Hardening._fields) == ["profile", *(snake_case(c.id) for c in hardening.CONTROLS[1:])]


def test_rule_ids_are_unique_stable_and_prefixed():
    ids = [rule.id for control in hardening.CONTROLS for rule in control.rules]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"EXD\d{3}", rule_id) for rule_id in ids)
    assert list(hardening.RULES) == ids
    for rule in hardening.RULES.values():
        assert rule.severity in ("error", "warning", "info")
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.slug)
        assert rule.summary


def test_get_unknown_control_raises():
    assert hardening.get("gvisor") is gvisor.CONTROL
    with pytest.raises(ValueError, match="no such hardening control: 'selinux'"):
        hardening.get("selinux")


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("baseline", []),
        ("recommended", ["nodePool", "networkPolicy"]),
        ("strict", ["nodePool", "gvisor", "networkPolicy", "podSecurity"]),
    ],
)
def test_profiles(profile, expected):
    assert [c.id for c in hardening.enabled(spec(hardening={"profile": profile}))] == ["baseline", *expected]


def test_explicit_enabled_wins_over_the_profile():
    off = spec(hardening={"profile": "strict", "gvisor": {"enabled": False}, "podSecurity": {"enabled": False}})
    assert [c.id for c in hardening.enabled(off)] == ["baseline", "nodePool", "networkPolicy"]
    on = spec(hardening={"profile": "baseline", "networkPolicy": {"enabled": True}})
    assert [c.id for c in hardening.enabled(on)] == ["baseline", "networkPolicy"]
    null = spec(hardening={"profile": "recommended", "nodePool": {"enabled": None}})
    assert [c.id for c in hardening.enabled(null)] == ["baseline", "nodePool", "networkPolicy"]
