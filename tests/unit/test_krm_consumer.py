"""krm.consumer: where Kubernetes' decoder (kubectl, the API server) and this reader would see different objects,
the input is refused with the file, the line and what each reader sees; the same input without the defect reads.

What kubectl keeps was checked with kubectl 1.32's own decoder (`kubectl annotate --local -o yaml -f FILE`): the
last of a duplicate key, merged fields of a `<<` merge key, `!!binary` as the decoded text, `!!set` as an object of
nulls, `!custom x` as `x`, `!!timestamp` as its text, `! 2`, `! true` and `! ~` as strings, and both of two documents
naming the same object.
"""

from __future__ import annotations

import pytest

from executor_dind.krm.errors import InputError
from executor_dind.krm.files import read_input
from executor_dind.krm.read import read_resource_list, read_stream

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: executor
  namespace: sourcegraph
spec:
  selector: {matchLabels: {app: executor, role: jobs}}
  template:
    metadata: {labels: {app: executor, role: jobs}}
    spec:
      containers:
        - name: dind
          image: docker:dind
          securityContext:
            privileged: false
"""
NETWORK_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: executors
  namespace: sourcegraph
spec:
  podSelector: {matchLabels: {app: executor}}
  policyTypes: [Egress]
  egress:
    - to: [{ipBlock: {cidr: 10.0.0.1/32}}]
"""
CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: docker-config
  namespace: sourcegraph
data:
  daemon.json: '{"iptables": true}'
"""
DOCUMENTS = (DEPLOYMENT, NETWORK_POLICY, CONFIG_MAP)
CLEAN = "---\n".join(DOCUMENTS)
HEAD = "m.yaml: document {} ({}): "
DECODER = "Kubernetes' decoder (kubectl, the API server) keeps the last"


def mutated(index: int, old: str, new: str) -> str:
    documents = list(DOCUMENTS)
    assert old in documents[index]
    documents[index] = documents[index].replace(old, new, 1)
    return "---\n".join(documents)


def refused(text: str) -> list[str]:
    """The messages of reading text, the same whether its objects are built as it is read (the audit's way) or
    from its kept nodes."""
    messages = []
    for build in (False, True):
        with pytest.raises(InputError) as caught:
            read_stream(text, "m.yaml", build=build)
        messages.append(caught.value.messages)
    assert messages[1] == messages[0]
    return messages[0]


def test_the_clean_stream_reads_as_kubectl_reads_it():
    """The positive control of every case below: the same documents without the defect."""
    items = read_stream(CLEAN, "m.yaml")
    assert [item.describe() for item in items] == [
        "Deployment/sourcegraph/executor",
        "NetworkPolicy/sourcegraph/executors",
        "ConfigMap/sourcegraph/docker-config",
    ]
    assert [item.text for item in items] == list(DOCUMENTS)
    # Built as read (the audit's way): no nodes or text kept, the line each starts at (from 0: a 15-line
    # Deployment, `---`, a 10-line policy, `---`) kept for the messages about the same object twice.
    built = read_stream(CLEAN, "m.yaml", build=True)
    assert [(item.describe(), item.node, item.text, item.line) for item in built] == [
        ("Deployment/sourcegraph/executor", None, None, 0),
        ("NetworkPolicy/sourcegraph/executors", None, None, 16),
        ("ConfigMap/sourcegraph/docker-config", None, None, 27),
    ]
    assert [item.obj for item in built] == [item.obj for item in items]


DUPLICATE_KEYS = {
    # kind: ConfigMap first, Deployment last: this reader would see a ConfigMap where kubectl applies a Deployment.
    "a-deployment-hidden-behind-a-kind": (
        (0, "kind: Deployment\n", "kind: ConfigMap\nkind: Deployment\n"),
        HEAD.format(1, "ConfigMap/sourcegraph/executor") + "the object has the key 'kind' twice, at line 2 and at line "
        f"3: {DECODER} ('Deployment'), a reader of the first finds 'ConfigMap': keep one",
    ),
    "a-privileged-container-hidden-at-depth": (
        (0, "privileged: false\n", "privileged: false\n            privileged: true\n"),
        HEAD.format(1, "Deployment/sourcegraph/executor") + "spec.template.spec.containers[0].securityContext has the "
        f"key 'privileged' twice, at line 15 and at line 16: {DECODER} ('true'), a reader of the first finds 'false': "
        "keep one",
    ),
    "a-network-policy-egress-replaced": (
        (1, "  egress:\n", "  egress: []\n  egress:\n"),
        HEAD.format(2, "NetworkPolicy/sourcegraph/executors")
        + "spec has the key 'egress' twice, at line 25 and at line "
        f"26: {DECODER} (the list at line 27), a reader of the first finds the list at line 25: keep one",
    ),
    "a-namespace-hidden": (
        (2, "  namespace: sourcegraph\n", "  namespace: sourcegraph\n  namespace: kube-system\n"),
        HEAD.format(3, "ConfigMap/sourcegraph/docker-config")
        + "metadata has the key 'namespace' twice, at line 32 and "
        f"at line 33: {DECODER} ('kube-system'), a reader of the first finds 'sourcegraph': keep one",
    ),
    "a-config-map-name-hidden": (
        (2, "  name: docker-config\n", "  name: docker-config\n  name: other\n"),
        HEAD.format(3, "ConfigMap/sourcegraph/docker-config") + "metadata has the key 'name' twice, at line 31 and at "
        f"line 32: {DECODER} ('other'), a reader of the first finds 'docker-config': keep one",
    ),
}


@pytest.mark.parametrize("case", DUPLICATE_KEYS)
def test_a_duplicate_key_at_any_depth_is_refused_with_both_lines_and_values(case):
    (index, old, new), message = DUPLICATE_KEYS[case]
    assert refused(mutated(index, old, new)) == [message]


def test_a_quoted_key_equal_to_a_plain_one_is_the_same_json_key():
    """`"kind"` and `kind` are one key to both readers: still a duplicate."""
    text = mutated(2, "kind: ConfigMap\n", 'kind: ConfigMap\n"kind": Secret\n')
    assert refused(text) == [
        HEAD.format(3, "ConfigMap/sourcegraph/docker-config")
        + "the object has the key 'kind' twice, at line 29 and at "
        f"line 30: {DECODER} ('Secret'), a reader of the first finds 'ConfigMap': keep one"
    ]


MERGE_KEYS = {
    "kind-hidden-in-a-merge": (
        (0, "kind: Deployment\n", "<<: {kind: Deployment}\n"),
        HEAD.format(1, "(no kind)/sourcegraph/executor") + "the object has a YAML merge key (<<) at line 2, merging "
        "in kind: Kubernetes' decoder sees those fields there, a reader of the keys as written does not: write the "
        "fields out instead of merging them",
    ),
    "privileged-merged-from-an-anchor": (
        (0, "            privileged: false\n", "            <<: [*priv]\n"),
        HEAD.format(1, "Deployment/sourcegraph/executor") + "spec.template.spec.containers[0].securityContext has a "
        "YAML merge key (<<) at line 16, merging in privileged: Kubernetes' decoder sees those fields there, a reader "
        "of the keys as written does not: write the fields out instead of merging them",
    ),
}


@pytest.mark.parametrize("case", MERGE_KEYS)
def test_a_merge_key_is_refused_naming_the_fields_it_merges_in(case):
    (index, old, new), message = MERGE_KEYS[case]
    text = mutated(index, old, new).replace(
        "metadata:\n  name: executor\n", "x: &priv {privileged: true}\nmetadata:\n  name: executor\n"
    )
    assert refused(text) == [message]


def test_an_anchor_and_alias_without_a_merge_key_read_alike():
    """The positive control of the merge keys: an alias is the same value to both readers."""
    text = mutated(0, "            privileged: false\n", "            privileged: *off\n").replace(
        "metadata:\n  name: executor\n", "x: &off false\nmetadata:\n  name: executor\n"
    )
    [deployment, *_] = read_stream(text, "m.yaml")
    assert deployment.obj["spec"]["template"]["spec"]["containers"][0]["securityContext"] == {"privileged": False}


TAGS = {
    "binary-daemon-json": (
        "  daemon.json: '{\"iptables\": true}'\n",
        "  daemon.json: !!binary eyJpcHRhYmxlcyI6IGZhbHNlfQ==\n",
        "data.daemon.json has the YAML tag !!binary at line 34: Kubernetes' decoder reads the base64-decoded text, "
        "PyYAML bytes",
    ),
    "set": (
        "\ndata:\n",
        "\ndata: !!set\n",
        "data has the YAML tag !!set at line 33: Kubernetes' decoder reads an object whose values are null, "
        "PyYAML a set",
    ),
    "custom": (
        "  daemon.json: '{\"iptables\": true}'\n",
        "  daemon.json: !json '{\"iptables\": true}'\n",
        "data.daemon.json has the YAML tag !json at line 34: Kubernetes' decoder reads the value with the tag ignored, "
        "PyYAML no value (it cannot build the tag)",
    ),
    "timestamp": (
        "  daemon.json: '{\"iptables\": true}'\n",
        "  daemon.json: !!timestamp 2001-12-14t21:59:43.10-05:00\n",
        "data.daemon.json has the YAML tag !!timestamp at line 34: Kubernetes' decoder reads the text as written, "
        "PyYAML a datetime",
    ),
}


@pytest.mark.parametrize("case", TAGS)
def test_a_tag_the_readers_do_not_share_is_refused(case):
    old, new, message = TAGS[case]
    assert refused(mutated(2, old, new)) == [
        HEAD.format(3, "ConfigMap/sourcegraph/docker-config") + message + ": write the value without the tag"
    ]


# A script's `!` looks like a tag to the text scan; read inside its block scalar, it is no tag.
SCRIPT = "  run.sh: |\n    if ! grep -q x /etc/y; then exit 1; fi\n    [ ! -e /z ] && echo ! done\n"


def test_a_script_with_bangs_reads_alike():
    """The positive control of the cases below: the script alone, in a stream and in a ResourceList."""
    text = mutated(2, "  daemon.json: '{\"iptables\": true}'\n", "  daemon.json: '{\"iptables\": true}'\n" + SCRIPT)
    [*_, config_map] = read_stream(text, "m.yaml")
    assert config_map.obj["data"]["run.sh"] == "if ! grep -q x /etc/y; then exit 1; fi\n[ ! -e /z ] && echo ! done\n"
    entries = "".join("- " + document.replace("\n", "\n  ").rstrip(" ") for document in text.split("---\n"))
    assert len(read_resource_list(f"kind: ResourceList\nitems:\n{entries}").items) == 3


@pytest.mark.parametrize("case", ["binary-daemon-json", "custom", "timestamp", "non-specific"])
def test_a_tag_beside_a_script_with_bangs_is_refused(case):
    old, new, message = TAGS.get(case) or (
        "  daemon.json: '{\"iptables\": true}'\n",
        "  daemon.json: ! 2\n",
        "data.daemon.json has the non-specific tag ! at line 34: Kubernetes' decoder reads the string '2', PyYAML "
        "an integer: quote the value",
    )
    ending = ": write the value without the tag" if case in TAGS else " instead"
    # The script after the tag, and before it (its three lines move the tag to line 37).
    for text, line in ((mutated(2, old, new + SCRIPT), 34), (mutated(2, old, SCRIPT + new), 37)):
        assert refused(text) == [
            HEAD.format(3, "ConfigMap/sourcegraph/docker-config") + message.replace("line 34", f"line {line}") + ending
        ]


def test_a_tag_on_a_block_scalar_is_refused():
    text = mutated(2, "  daemon.json: '{\"iptables\": true}'\n", "  daemon.json: !!binary |\n    eyJp\n" + SCRIPT)
    assert refused(text) == [
        HEAD.format(3, "ConfigMap/sourcegraph/docker-config") + "data.daemon.json has the YAML tag !!binary at line "
        "34: Kubernetes' decoder reads the base64-decoded text, PyYAML bytes: write the value without the tag"
    ]


def test_core_tags_and_the_non_specific_tag_read_alike():
    """The positive control of the tags: JSON's own types, written with their tags, and `!` on a string (kubectl
    read these the same: "1", "two", 3, null)."""
    text = mutated(
        2, "  daemon.json: '{\"iptables\": true}'\n", "  a: !!str 1\n  b: ! two\n  c: !!int '3'\n  d: !!null ''\n"
    )
    [*_, config_map] = read_stream(text, "m.yaml")
    assert config_map.obj["data"] == {"a": "1", "b": "two", "c": 3, "d": None}


@pytest.mark.parametrize(
    ("value", "reading"), [("2", "an integer"), ("true", "a boolean"), ("~", "null"), ("&anchored ! 2", "an integer")]
)
def test_the_non_specific_tag_on_what_is_no_string_to_pyyaml_is_refused(value, reading):
    """`! 2`: libyaml resolves it as a plain scalar (2), kubectl's decoder read the string "2"."""
    written = value if value.startswith("&") else f"! {value}"
    text = mutated(2, "  daemon.json: '{\"iptables\": true}'\n", f"  daemon.json: {written}\n")
    assert refused(text) == [
        HEAD.format(3, "ConfigMap/sourcegraph/docker-config") + "data.daemon.json has the non-specific tag ! at line "
        f"34: Kubernetes' decoder reads the string {value.rpartition(' ')[2]!r}, PyYAML {reading}: quote the value "
        "instead"
    ]


def test_the_same_object_twice_is_refused_naming_both_places():
    text = CLEAN + "---\n" + CONFIG_MAP.replace("true", "false")
    assert refused(text) == [
        "m.yaml: document 4 (ConfigMap/sourcegraph/docker-config) at line 36: the same object as m.yaml: document 3 "
        "(ConfigMap/sourcegraph/docker-config) at line 28: the API server keeps the last one applied, a reader of the "
        "first sees that one: keep one"
    ]


def test_objects_that_differ_in_namespace_kind_or_group_are_not_the_same():
    other_namespace = CONFIG_MAP.replace("namespace: sourcegraph", "namespace: other")
    other_kind = CONFIG_MAP.replace("kind: ConfigMap", "kind: Secret")
    other_group = CONFIG_MAP.replace("apiVersion: v1", "apiVersion: example.com/v1")
    assert len(read_stream("---\n".join((CLEAN, other_namespace, other_kind, other_group)), "m.yaml")) == 6


def test_the_same_object_in_two_files_of_a_directory_is_refused(tmp_path):
    (tmp_path / "a.yaml").write_text(CLEAN)
    (tmp_path / "b.yaml").write_text(NETWORK_POLICY)
    with pytest.raises(InputError) as caught:
        read_input([str(tmp_path)])
    assert caught.value.messages == [
        f"{tmp_path}/b.yaml: document 1 (NetworkPolicy/sourcegraph/executors) at line 1: the same object as "
        f"{tmp_path}/a.yaml: document 2 (NetworkPolicy/sourcegraph/executors) at line 17: the API server keeps the "
        "last one applied, a reader of the first sees that one: keep one"
    ]
    (tmp_path / "b.yaml").write_text(NETWORK_POLICY.replace("name: executors", "name: registry"))
    assert len(read_input([str(tmp_path)]).items) == 4


def resource_list(*documents: str) -> str:
    entries = []
    for number, document in enumerate(documents):
        annotated = document.replace(
            "metadata:\n", f"metadata:\n  annotations: {{config.kubernetes.io/path: 'file-{number}.yaml'}}\n", 1
        )
        entries.append("".join(("- " if n == 0 else "  ") + line for n, line in enumerate(annotated.splitlines(True))))
    return "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n" + "".join(entries)


def test_a_resource_list_names_the_file_each_item_came_from_and_echoes_the_input():
    clean = resource_list(*DOCUMENTS)
    assert len(read_resource_list(clean).items) == 3
    text = resource_list(
        DEPLOYMENT, NETWORK_POLICY, CONFIG_MAP.replace("  name: docker-config\n", "  name: a\n  name: b\n")
    )
    with pytest.raises(InputError) as caught:
        read_resource_list(text)
    assert caught.value.messages == [
        "stdin: ResourceList.items[2] (ConfigMap/sourcegraph/a, file file-2.yaml): metadata has the key 'name' twice, "
        f"at line 35 and at line 36: {DECODER} ('b'), a reader of the first finds 'a': keep one"
    ]
    assert caught.value.resource_list is not None and caught.value.resource_list.document.text == text


def test_a_document_pyyaml_cannot_build_is_read_as_without_build_and_fails_only_when_built():
    """build=True never fails a read that the lazy read passes: a key that is a list (PyYAML cannot build the
    object) keeps its nodes, and building it is the same error either way, at the list key (CLEAN is 34 lines, then
    `---`, so `data` is line 39 and `[a]` column 10); the other documents are built."""
    text = CLEAN + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: odd}\ndata: {? [a]: b}\n"
    errors = []
    for build in (False, True):
        items = read_stream(text, "m.yaml", build=build)
        assert [item.describe() for item in items][3] == "ConfigMap/odd"
        assert [item.node is None for item in items] == [build, build, build, False]
        with pytest.raises(InputError) as caught:
            assert items[3].obj is None  # never reached: building it raises
        errors.append(caught.value.messages)
    assert (
        errors[1]
        == errors[0]
        == ["m.yaml: document 4 (ConfigMap/odd): cannot read the value at line 39, column 10: found unhashable key"]
    )


SCALARS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: scalars, labels: {a: "1", b: '2'}}
values:
  ints: [1, -2, +3, 0o17, 0x1f, 0b101, 1_000, 012, 190:20:30, NINES]
  floats: [1.5, -0.5e3, .inf, -.Inf, .nan, 1_0.5, 190:20:30.15]
  bools: [true, False, yes, NO, on, Off, y, n]
  nulls: [null, ~, Null, ]
  times: [2001-12-14, 2001-12-14t21:59:43.10-05:00, 2024-02-30, 2001-12-14 21:59:43.10]
  strings: ["true", '1', plain text, 'a: b', "=", -, "<<", 1.2.3, 0x, "NINES"]
  blocks:
    literal: |
      two
      lines
    folded: >-
      one
      line
  1: int key
  2.5: float key
  null: null key
  true: bool key
  2001-12-14: date key
  nested: [[1, [2, {a: [3]}]], {}, []]
""".replace("NINES", "9" * 70)


def test_objects_built_as_read_are_those_pyyaml_builds_from_the_nodes():
    """build=True builds each document straight from its nodes: every scalar form the safe schema resolves (YAML
    1.1 ints (0o17 is no int there, 012 is octal), floats, bools, nulls, dates, an invalid date kept as text, a
    HugeInt) and every key type give the objects construct() gives, types included (repr tells True from 1)."""
    [lazy] = read_stream(SCALARS, "m.yaml")
    [built] = read_stream(SCALARS, "m.yaml", build=True)
    assert built.node is None and lazy.node is not None
    assert repr(built.obj) == repr(lazy.obj)
    values = built.obj["values"]
    assert (
        values["ints"][:8] == [1, -2, 3, "0o17", 31, 5, 1000, 10]
        and repr(values["ints"][9]) == "an integer of 70 digits"
    )
    assert values["bools"] == [True, False, True, False, True, False, "y", "n"]
    assert values["times"][2] == "2024-02-30" and values["strings"][4:7] == ["=", "-", "<<"]
