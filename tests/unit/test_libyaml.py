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


# What a KRM run (of the default config, over an empty ResourceList) never uses: PyYAML's constructor timestamp
# and every implicit resolver's pattern (the resolver's guards in krm/nodes.py decide the values it writes
# without them); json's pure-Python number scanner and escapes (_json's C code does their work).
UNUSED = {
    "yaml.constructor.SafeConstructor.timestamp_regexp": "yaml.constructor.SafeConstructor.timestamp_regexp",
    "bool resolver": "yaml.resolver.Resolver.yaml_implicit_resolvers['t'][0][1]",
    "null resolver": "yaml.resolver.Resolver.yaml_implicit_resolvers['~'][0][1]",
    "float resolver": "yaml.resolver.Resolver.yaml_implicit_resolvers['1'][0][1]",
    "int resolver": "yaml.resolver.Resolver.yaml_implicit_resolvers['1'][1][1]",
    "timestamp resolver": "yaml.resolver.Resolver.yaml_implicit_resolvers['1'][2][1]",
    "merge resolver": "yaml.resolver.Resolver.yaml_implicit_resolvers['<'][0][1]",
    "value resolver": "yaml.resolver.Resolver.yaml_implicit_resolvers['='][0][1]",
    "yaml resolver": "yaml.resolver.Resolver.yaml_implicit_resolvers['!'][0][1]",
    "json.scanner.NUMBER_RE": "json.scanner.NUMBER_RE",
    "json.encoder.ESCAPE": "json.encoder.ESCAPE",
    "json.encoder.ESCAPE_ASCII": "json.encoder.ESCAPE_ASCII",
    "json.encoder.HAS_UTF8": "json.encoder.HAS_UTF8",
}
RUN = """
import executor_dind.libyaml
import json
import yaml
from executor_dind.process import process

processed = process(b"apiVersion: config.kubernetes.io/v1\\nkind: ResourceList\\nitems: []\\n")
print(processed.code, processed.output.count(b"kind: Deployment"))
for name, pattern in (({unused})).items():
    print(name, type(pattern).__name__, sorted(vars(pattern)))
print("json whitespace", type(json.decoder.WHITESPACE).__name__, sorted(vars(json.decoder.WHITESPACE)))
# Used now, each is the pattern PyYAML and json compile.
print(yaml.safe_load("d: 2001-12-14\\nm: {{<<: {{a: 1}}}}"))
print(json.encoder.py_encode_basestring_ascii('\\u00e9"\\n'), json.encoder.py_encode_basestring('\\u00e9"\\n'))
print(json.scanner.py_make_scanner(json.JSONDecoder())("-12.5e3", 0))
print(type(json.scanner.NUMBER_RE).__name__, sorted(vars(json.scanner.NUMBER_RE)))
"""


def test_a_krm_run_compiles_none_of_the_patterns_it_never_uses_and_they_work_when_used():
    unused = "{" + ", ".join(f"{name!r}: {path}" for name, path in UNUSED.items()) + "}"
    probe = subprocess.run(
        [sys.executable, "-c", RUN.format(unused=unused)], capture_output=True, text=True, check=True
    )
    lines = probe.stdout.splitlines()
    assert lines[0] == "0 1"  # the function ran: one executor Deployment
    assert lines[1 : 1 + len(UNUSED)] == [f"{name} _CompiledOnFirstUse ['_flags', '_pattern']" for name in UNUSED]
    # Positive control: a pattern the run did use was compiled, and its method kept on the stand-in.
    assert lines[1 + len(UNUSED)] == "json whitespace _CompiledOnFirstUse ['_flags', '_pattern', 'match']"
    import json

    text = 'é"\n'
    assert lines[2 + len(UNUSED) :] == [
        str(yaml.safe_load("d: 2001-12-14\nm: {<<: {a: 1}}")),
        f"{json.encoder.c_encode_basestring_ascii(text)} {json.encoder.c_encode_basestring(text)}",
        "(-12500.0, 7)",
        "_CompiledOnFirstUse ['_flags', '_pattern', 'match']",
    ]
