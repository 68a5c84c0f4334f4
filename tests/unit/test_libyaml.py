"""libyaml: PyYAML imported without compiling its Python reader's character check, which still works when used."""

from __future__ import annotations

import subprocess
import sys

import yaml

PROBE = """
import sys
import executor_dind.libyaml
import yaml
print(type(yaml.reader.Reader.NON_PRINTABLE).__name__)
for text in ("a: \\x07", "b: \\ufffe", "c: fine \\u00e9"):
    try:
        print(yaml.safe_load(text))
    except yaml.YAMLError as error:
        print(str(error).splitlines()[0])
print(type(yaml.reader.Reader.NON_PRINTABLE).__name__, yaml.__with_libyaml__)
"""


def test_the_python_reader_still_refuses_what_pyyaml_refuses():
    probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    expected = []
    for text in ("a: \x07", "b: \ufffe", "c: fine \u00e9"):
        try:
            expected.append(str(yaml.safe_load(text)))
        except yaml.YAMLError as error:
            expected.append(str(error).splitlines()[0])
    assert expected[0] == "unacceptable character #x0007: special characters are not allowed"
    assert expected[2] == "{'c': 'fine é'}"
    assert probe.stdout.splitlines() == ["_CompiledOnFirstUse", *expected, "_CompiledOnFirstUse True"]


def test_an_already_imported_yaml_is_used_as_it_is():
    probe = "import yaml, executor_dind.libyaml as ours; print(ours.yaml is yaml, yaml.reader.Reader.NON_PRINTABLE)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("True re.compile(")
