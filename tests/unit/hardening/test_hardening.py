"""The control table: one uniform record per module, baseline included; profiles and explicit enabled."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

from executor_dind import hardening
from executor_dind.audit import rules as audit_rules
from executor_dind.hardening import baseline, gvisor
from executor_dind.hardening.common import Control, snake_case
from executor_dind.settings import PROFILES, Hardening
from executor_dind.spec import Spec

from ..helpers import spec


def test_every_control_module_declares_one_control_registered_once():
    package = hardening.__path__
    modules = {name for _, name, _ in pkgutil.iter_modules(package)} - {"common"}
    registered = [control.apply.__module__.rsplit(".", 1)[1] for control in hardening.CONTROLS]
    assert sorted(registered) == sorted(modules)
    for control in hardening.CONTROLS:
        module = importlib.import_module(control.apply.__module__)
        assert module.CONTROL is control
        assert isinstance(control, Control)
        assert control.check.__module__ in (module.__name__, "executor_dind.hardening.common")
        assert control.does and control.guarantees and control.requires
        assert set(control.profiles) <= set(PROFILES)


def test_baseline_is_first_always_on_and_has_no_settings():
    assert hardening.CONTROLS[0] is baseline.CONTROL
    assert baseline.CONTROL.settings is None
    assert baseline.CONTROL.profiles == PROFILES
    for profile in PROFILES:
        assert hardening.enabled(spec(namespace="ex", hardening={"profile": profile}))[0] is baseline.CONTROL


def test_each_control_owns_its_settings_record_under_spec_hardening():
    for control in hardening.CONTROLS[1:]:
        assert control.settings.__module__ == "executor_dind.settings"
        assert Hardening._field_defaults[snake_case(control.id)] == control.settings()
        assert control.settings_of(Spec()) == control.settings()
    assert list(Hardening._fields) == ["profile", *(snake_case(c.id) for c in hardening.CONTROLS[1:])]


def test_every_audit_rules_module_declares_its_control_and_rules_registered_once():
    package = audit_rules.__path__
    modules = {name for _, name, _ in pkgutil.iter_modules(package)}
    assert sorted(module.__name__.rsplit(".", 1)[1] for module in audit_rules.MODULES) == sorted(modules)
    # in the order of the controls, each module's rules checked by its own functions
    assert [module.CONTROL for module in audit_rules.MODULES] == [control.id for control in hardening.CONTROLS]
    for module in audit_rules.MODULES:
        # A control's module, or for a package of rule families (baseline) one of its modules.
        owners = (module.__name__, *(family.__name__ for family in getattr(module, "FAMILIES", ())))
        assert all(rule.check.__module__ in owners for rule in module.RULES), module.__name__
        assert all(audit_rules.CONTROL_OF[rule.id] == module.CONTROL for rule in module.RULES)


def test_rule_ids_are_unique_stable_and_prefixed():
    ids = [rule.id for module in audit_rules.MODULES for rule in module.RULES]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"EXD\d{3}", rule_id) for rule_id in ids)
    assert list(audit_rules.RULES) == ids
    for rule in audit_rules.RULES.values():
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
    enabled = hardening.enabled(spec(namespace="ex", hardening={"profile": profile}))
    assert [c.id for c in enabled] == ["baseline", *expected]


def test_explicit_enabled_wins_over_the_profile():
    off = spec(hardening={"profile": "strict", "gvisor": {"enabled": False}, "podSecurity": {"enabled": False}})
    assert [c.id for c in hardening.enabled(off)] == ["baseline", "nodePool", "networkPolicy"]
    on = spec(hardening={"profile": "baseline", "networkPolicy": {"enabled": True}})
    assert [c.id for c in hardening.enabled(on)] == ["baseline", "networkPolicy"]
    null = spec(hardening={"profile": "recommended", "nodePool": {"enabled": None}})
    assert [c.id for c in hardening.enabled(null)] == ["baseline", "nodePool", "networkPolicy"]
