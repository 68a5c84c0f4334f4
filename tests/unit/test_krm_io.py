"""krm_io: untouched items leave as the text they came in; new items are block YAML; bad input is an InputError."""

from __future__ import annotations

import pytest
import yaml

from executor_dind import krm_io
from executor_dind.krm_io import InputError, Item

HEADER = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"

# Everything a hand-written or kpt-written file may hold: comments in every position, quoting styles, non-ASCII,
# block scalars, a flow map inside a block item, wide (`  - `) sequence indentation, empty values.
WIDE = (
    HEADER
    + """items:
  - apiVersion: v1   # trailing comment
    kind: ConfigMap
    metadata:
      name: café
      namespace: "sourcegraph"
      annotations:
        note: "ünïcødé ✓ — 日本語"
        config.kubernetes.io/path: 'cm.yaml'
        internal.config.kubernetes.io/seqindent: wide
    # a comment line inside the item
    data:
      single: 'it''s'
      double: "tab\\there"
      plain: 0755
      empty:
      literal: |
        line one
          indented
      folded: >-
        folded
        text
      flow: {a: 1, b: [x, y]}
      list:
        - one   # item comment
        - two
  - apiVersion: v1
    kind: Secret
    metadata: {name: s, namespace: sourcegraph}
    stringData:
      password: "hunter2"
functionConfig:
  apiVersion: v1
  kind: ConfigMap
  metadata:
    name: function-input  # keep me
  data:
    frontend.url: http://sourcegraph-frontend:30080
"""
)

COMPACT = (
    HEADER
    + """items:
- apiVersion: v1
  kind: Service
  metadata:
    name: sourcegraph-frontend
  spec:
    ports:
    - name: http
      port: 30080
  # trailing comment inside the item
# comment between items
- resources:   # a kind-less kustomization.yaml, as kpt sends it
  - base
  metadata:
    annotations:
      config.kubernetes.io/path: kustomization.yaml
"""
)


def roundtrip(text: str) -> str:
    return krm_io.write_resource_list(krm_io.read_resource_list(text))


@pytest.mark.parametrize("text", [WIDE, COMPACT], ids=["wide", "compact"])
def test_untouched_items_pass_through_byte_for_byte(text):
    assert roundtrip(text) == text


def test_each_item_keeps_its_own_source_text():
    resource_list = krm_io.read_resource_list(WIDE)
    first, second = resource_list.items
    assert first.text is not None and first.text.startswith("  - apiVersion: v1   # trailing comment\n")
    assert "# a comment line inside the item\n" in first.text
    assert "ünïcødé ✓ — 日本語" in first.text
    assert second.text == (
        "  - apiVersion: v1\n    kind: Secret\n    metadata: {name: s, namespace: sourcegraph}\n"
        '    stringData:\n      password: "hunter2"\n'
    )


def test_parsed_items_equal_what_a_yaml_parser_reads():
    resource_list = krm_io.read_resource_list(WIDE)
    assert [item.obj for item in resource_list.items] == yaml.safe_load(WIDE)["items"]
    assert resource_list.function_config == yaml.safe_load(WIDE)["functionConfig"]


def test_identity_fields_come_from_the_source_without_building_objects():
    first, second = krm_io.read_resource_list(WIDE).items
    assert (first.api_version, first.kind, first.name, first.namespace) == ("v1", "ConfigMap", "café", "sourcegraph")
    assert first.annotation("config.kubernetes.io/path") == "cm.yaml"
    assert first.annotation("missing") == ""
    assert first.key == ("", "ConfigMap", "sourcegraph", "café")
    assert second.describe() == "Secret/sourcegraph/s"
    assert first._obj is None, "reading identity fields must not construct the whole object"


def test_kindless_items_are_tolerated():
    _, kustomization = krm_io.read_resource_list(COMPACT).items
    assert (kustomization.kind, kustomization.name, kustomization.describe()) == ("", "", "(no kind)/(no name)")
    assert kustomization.is_mapping


def test_group_ignores_the_version():
    item = Item.new({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "n"}})
    assert (item.group, item.key) == ("apps", ("apps", "Deployment", "n", "a"))
    other = Item.new({"apiVersion": "apps/v1beta2", "kind": "Deployment", "metadata": {"name": "a", "namespace": "n"}})
    assert other.key == item.key


def test_function_config_is_echoed_verbatim_with_its_comments():
    resource_list = krm_io.read_resource_list(WIDE)
    assert resource_list.function_config_text == (
        "  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: function-input  # keep me\n"
        "  data:\n    frontend.url: http://sourcegraph-frontend:30080\n"
    )
    assert krm_io.write_resource_list(resource_list).endswith("functionConfig:\n" + resource_list.function_config_text)


def test_flow_style_function_config_is_echoed_as_block_yaml():
    text = HEADER + "items: []\nfunctionConfig: {apiVersion: v1, kind: ConfigMap, data: {a: '1'}}\n"
    out = roundtrip(text)
    assert out == HEADER + "items: []\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  data:\n    a: '1'\n"


def test_api_version_is_echoed():
    text = "apiVersion: config.kubernetes.io/v1beta1\nkind: ResourceList\nitems: []\n"
    assert roundtrip(text) == text
    assert roundtrip("kind: ResourceList\n").startswith("apiVersion: config.kubernetes.io/v1\n")


@pytest.mark.parametrize("items", ["items: []\n", "items:\n", "items: null\n", ""])
def test_no_items(items):
    resource_list = krm_io.read_resource_list(HEADER + items)
    assert resource_list.items == []
    assert krm_io.write_resource_list(resource_list) == HEADER + "items: []\n"


def test_flow_style_items_fall_back_to_block_dumps_with_the_same_content():
    text = HEADER + "items: [{apiVersion: v1, kind: ConfigMap, metadata: {name: a}, data: {k: 'v'}}]\n"
    resource_list = krm_io.read_resource_list(text)
    assert [item.text for item in resource_list.items] == [None]
    out = krm_io.write_resource_list(resource_list)
    assert out == HEADER + "items:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\n    k: v\n"
    assert yaml.safe_load(out)["items"] == yaml.safe_load(text)["items"]


def test_only_an_item_aliasing_another_items_anchor_is_dumped():
    anchored = "- apiVersion: v1\n  kind: ConfigMap\n  metadata: &meta\n    name: a\n"
    own = "- kind: B\n  a: &x {k: 'v'}\n  b: *x\n"
    text = HEADER + "items:\n" + anchored + "- apiVersion: v1\n  kind: Secret\n  metadata: *meta\n" + own
    resource_list = krm_io.read_resource_list(text)
    assert [item.text for item in resource_list.items] == [anchored, None, own]
    out = krm_io.write_resource_list(resource_list)
    assert out == HEADER + "items:\n" + anchored + "- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: a\n" + own
    assert yaml.safe_load(out)["items"] == yaml.safe_load(text)["items"]


def test_ampersands_and_stars_in_strings_are_not_anchors():
    text = HEADER + "items:\n- kind: A\n  data: \"a &b *c\"\n  other: 'x*y&z'\n"
    resource_list = krm_io.read_resource_list(text)
    assert resource_list.items[0].text is not None
    assert krm_io.write_resource_list(resource_list) == text


def test_results_are_appended():
    resource_list = krm_io.read_resource_list(COMPACT)
    resource_list.results = [{"message": "hello", "severity": "info"}]
    out = krm_io.write_resource_list(resource_list)
    assert out == COMPACT + "results:\n- message: hello\n  severity: info\n"


def test_new_items_are_block_yaml_indented_as_sequence_entries():
    resource_list = krm_io.read_resource_list(COMPACT)
    resource_list.items.append(
        Item.new({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n"}, "data": {"a": "x\ny\n"}})
    )
    out = krm_io.write_resource_list(resource_list)
    assert out == COMPACT + (
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: n\n  data:\n    a: |\n      x\n      y\n"
    )


def test_new_items_line_up_with_wide_kept_items():
    resource_list = krm_io.read_resource_list(WIDE)
    resource_list.items.append(Item.new({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n"}}))
    out = krm_io.write_resource_list(resource_list)
    assert "\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: n\nfunctionConfig:\n" in out
    assert [item["metadata"]["name"] for item in yaml.safe_load(out)["items"]] == ["café", "s", "n"]


@pytest.mark.parametrize(
    "tail",
    ["  data: |\n    text", "  data: |\n    text   ", "  data: |+\n    text", "  data: x   "],
    ids=["literal", "literal-trailing-spaces", "keep", "plain"],
)
def test_an_item_running_into_eof_without_a_newline_keeps_its_value(tail):
    text = HEADER + "items:\n- kind: A\n" + tail
    out = roundtrip(text)
    assert yaml.safe_load(out) == yaml.safe_load(text)
    stream = "kind: A\n" + tail.replace("\n  ", "\n").removeprefix("  ")
    assert yaml.safe_load(krm_io.write_stream(krm_io.read_stream(stream))) == yaml.safe_load(stream)


# --- dump -------------------------------------------------------------------------------------------------------


def test_dump_is_block_style_unicode_unwrapped_and_without_anchors():
    shared = {"k": "v"}
    long = "x" * 300
    text = krm_io.dump({"a": shared, "b": shared, "c": "ünï", "d": long, "e": [1, 2], "f": "two\nlines\n"})
    assert text == ("a:\n  k: v\nb:\n  k: v\nc: ünï\nd: " + long + "\ne:\n- 1\n- 2\nf: |\n  two\n  lines\n")


def test_dump_keeps_key_order_and_quotes_what_would_change_type():
    text = krm_io.dump({"z": "1", "a": "true", "m": "", "n": None, "o": "0755"})
    assert text == "z: '1'\na: 'true'\nm: ''\nn: null\no: '0755'\n"
    assert yaml.safe_load(text) == {"z": "1", "a": "true", "m": "", "n": None, "o": "0755"}


# --- annotations ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "owned"),
    [
        ("internal.config.kubernetes.io/path", True),
        ("internal.config.kubernetes.io/id", True),
        ("config.kubernetes.io/path", True),
        ("config.kubernetes.io/index", True),
        ("config.k8s.io/id", True),
        ("kustomize.config.k8s.io/id", True),
        ("config.kubernetes.io/local-config", False),
        ("config.kubernetes.io/function", False),
        ("description", False),
    ],
)
def test_orchestrator_annotations(key, owned):
    assert krm_io.is_orchestrator_annotation(key) is owned


STREAM_ON_STDIN = (
    "stdin: expected one ResourceList document (kind: ResourceList), got a YAML stream of {count} ({first}): "
    "with no arguments executor-dind is a KRM function (kpt and kustomize send it a ResourceList); to inject "
    "executors into manifests run `executor-dind render --config CFG -`"
)
NOT_AN_OBJECT = (
    "stdin: ResourceList.items[{index}] is not an object (got {got}): each item must be a Kubernetes object (a mapping)"
)
CONFIG_NOT_AN_OBJECT = "stdin: ResourceList.functionConfig must be an object (an ExecutorDind or a ConfigMap), got "

# --- malformed input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "stdin: expected one ResourceList document (kind: ResourceList)"),
        ("apiVersion: v1\nkind: ConfigMap\n", STREAM_ON_STDIN.format(count="1 document", first="ConfigMap/(no name)")),
        (
            "kind: A\nmetadata: {name: a}\n---\nkind: B\n",
            STREAM_ON_STDIN.format(count="2 documents", first="A/a, ..."),
        ),
        ("- a\n- b\n", "stdin: expected one ResourceList document (kind: ResourceList)"),
        (
            HEADER + "---\n" + HEADER,
            "stdin: expected one ResourceList document (kind: ResourceList), got 2 documents",
        ),
        (HEADER + "items: []\nitems: []\n", "stdin: the ResourceList has the key 'items' 2 times: keep one"),
        ("items: [\n", "stdin: not valid YAML at line 2, column 1: did not find expected node content"),
        (
            "kind: ResourceList\n  bad: indent\n",
            "stdin: not valid YAML at line 2, column 6: mapping values are not allowed in this context",
        ),
        ("\x00", "stdin: not valid YAML: unacceptable character #x0000: control characters are not allowed"),
        (HEADER + "items: 5\n", "stdin: ResourceList.items must be a list of objects, got the scalar '5'"),
        (HEADER + "items: {a: 1}\n", "stdin: ResourceList.items must be a list of objects, got an object"),
        (HEADER + "items: x\n", "stdin: ResourceList.items must be a list of objects, got the scalar 'x'"),
        (HEADER + "items:\n- 1\n", NOT_AN_OBJECT.format(index=0, got="the scalar '1'")),
        (HEADER + "items:\n- kind: A\n- [x]\n", NOT_AN_OBJECT.format(index=1, got="a list")),
        (HEADER + "items: []\nfunctionConfig: 5\n", CONFIG_NOT_AN_OBJECT + "the scalar '5'"),
        (HEADER + "items: []\nfunctionConfig: [a]\n", CONFIG_NOT_AN_OBJECT + "a list"),
    ],
)
def test_malformed_resource_lists_are_input_errors(text, message):
    assert "\n" not in message
    with pytest.raises(InputError) as caught:
        krm_io.read_resource_list(text)
    assert str(caught.value) == message


def test_the_source_is_named_in_input_errors():
    with pytest.raises(InputError, match=r"^manifests/a\.yaml: not valid YAML"):
        krm_io.read_stream("a: [\n", "manifests/a.yaml")


# --- streams (legacy exec plugin, standalone render) ------------------------------------------------------------


STREAM = """# leading comment
apiVersion: v1
kind: ConfigMap
metadata:
  name: a   # trailing
data:
  x: 'ünï'
---
apiVersion: v1
kind: Secret
metadata: {name: b}
"""


def test_stream_documents_pass_through_byte_for_byte():
    items = krm_io.read_stream(STREAM)
    assert [item.name for item in items] == ["a", "b"]
    assert krm_io.write_stream(items) == STREAM.removeprefix("# leading comment\n")


def test_stream_unwraps_lists_and_skips_empty_documents():
    text = "---\n---\napiVersion: v1\nkind: List\nitems:\n- {kind: A, metadata: {name: a}}\n- kind: B\n---\n"
    items = krm_io.read_stream(text)
    assert [(item.kind, item.name) for item in items] == [("A", "a"), ("B", "")]
    assert krm_io.read_stream("") == []
    assert krm_io.write_stream([]) == ""


@pytest.mark.parametrize(
    "text", ["kind: A\n---\n", "---\nkind: A\n", "kind: A\n---\n# comment\n", "---\n---\nkind: A\n"]
)
def test_stream_empty_documents_from_stray_separators_are_skipped(text):
    assert [item.kind for item in krm_io.read_stream(text)] == ["A"]


def test_stream_mixes_kept_text_and_dumps():
    items = krm_io.read_stream(STREAM)
    items.append(Item.new({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "c"}}))
    out = krm_io.write_stream(items)
    assert out == STREAM.removeprefix("# leading comment\n") + (
        "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: c\n"
    )


def test_stream_documents_must_be_objects():
    message = r"^stdin: document 2 is not an object \(got a list\): each document must be a Kubernetes object$"
    with pytest.raises(InputError, match=message):
        krm_io.read_stream("kind: A\n---\n- 1\n")
