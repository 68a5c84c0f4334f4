"""krm: untouched items leave as the text they came in; new items are block YAML; bad input is an InputError."""

from __future__ import annotations

import re

import hypothesis
import pytest
import yaml

from executor_dind.krm.aliases import marks
from executor_dind.krm.dump import Dumper, dump
from executor_dind.krm.errors import InputError
from executor_dind.krm.item import Item, is_orchestrator_annotation
from executor_dind.krm.nodes import HugeInt, compose, construct, resolve_plain_tags, tag_of
from executor_dind.krm.read import read_config_text, read_resource_list, read_stream
from executor_dind.krm.text import decode
from executor_dind.krm.write import write_failure, write_resource_list, write_stream

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
    return write_resource_list(read_resource_list(text))


@pytest.mark.parametrize("text", [WIDE, COMPACT], ids=["wide", "compact"])
def test_untouched_items_pass_through_byte_for_byte(text):
    assert roundtrip(text) == text


def test_each_item_keeps_its_own_source_text():
    resource_list = read_resource_list(WIDE)
    first, second = resource_list.items
    assert first.text is not None and first.text.startswith("  - apiVersion: v1   # trailing comment\n")
    assert "# a comment line inside the item\n" in first.text
    assert "ünïcødé ✓ — 日本語" in first.text
    assert second.text == (
        "  - apiVersion: v1\n    kind: Secret\n    metadata: {name: s, namespace: sourcegraph}\n"
        '    stringData:\n      password: "hunter2"\n'
    )


def test_parsed_items_equal_what_a_yaml_parser_reads():
    resource_list = read_resource_list(WIDE)
    assert [item.obj for item in resource_list.items] == yaml.safe_load(WIDE)["items"]
    assert resource_list.function_config == yaml.safe_load(WIDE)["functionConfig"]


def test_identity_fields_come_from_the_source_without_building_objects():
    first, second = read_resource_list(WIDE).items
    assert (first.api_version, first.kind, first.name, first.namespace) == ("v1", "ConfigMap", "café", "sourcegraph")
    assert first.annotation("config.kubernetes.io/path") == "cm.yaml"
    assert first.annotation("missing") == ""
    assert first.key == ("", "ConfigMap", "sourcegraph", "café")
    assert second.describe() == "Secret/sourcegraph/s"
    assert first._obj is None, "reading identity fields must not construct the whole object"


def test_kindless_items_are_tolerated():
    _, kustomization = read_resource_list(COMPACT).items
    assert (kustomization.kind, kustomization.name, kustomization.describe()) == ("", "", "(no kind)/(no name)")
    assert kustomization.is_mapping


def test_group_ignores_the_version():
    item = Item.new({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "n"}})
    assert (item.group, item.key) == ("apps", ("apps", "Deployment", "n", "a"))
    other = Item.new({"apiVersion": "apps/v1beta2", "kind": "Deployment", "metadata": {"name": "a", "namespace": "n"}})
    assert other.key == item.key


def test_function_config_is_echoed_verbatim_with_its_comments():
    resource_list = read_resource_list(WIDE)
    assert resource_list.function_config_text == (
        "  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: function-input  # keep me\n"
        "  data:\n    frontend.url: http://sourcegraph-frontend:30080\n"
    )
    assert write_resource_list(resource_list).endswith("functionConfig:\n" + resource_list.function_config_text)


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
    resource_list = read_resource_list(HEADER + items)
    assert resource_list.items == []
    assert write_resource_list(resource_list) == HEADER + "items: []\n"


def test_flow_style_items_fall_back_to_block_dumps_with_the_same_content():
    text = HEADER + "items: [{apiVersion: v1, kind: ConfigMap, metadata: {name: a}, data: {k: 'v'}}]\n"
    resource_list = read_resource_list(text)
    assert [item.text for item in resource_list.items] == [None]
    out = write_resource_list(resource_list)
    assert out == HEADER + "items:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\n    k: v\n"
    assert yaml.safe_load(out)["items"] == yaml.safe_load(text)["items"]


def test_only_an_item_aliasing_another_items_anchor_is_dumped():
    anchored = "- apiVersion: v1\n  kind: ConfigMap\n  metadata: &meta\n    name: a\n"
    own = "- kind: B\n  a: &x {k: 'v'}\n  b: *x\n"
    text = HEADER + "items:\n" + anchored + "- apiVersion: v1\n  kind: Secret\n  metadata: *meta\n" + own
    resource_list = read_resource_list(text)
    assert [item.text for item in resource_list.items] == [anchored, None, own]
    out = write_resource_list(resource_list)
    assert out == HEADER + "items:\n" + anchored + "- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: a\n" + own
    assert yaml.safe_load(out)["items"] == yaml.safe_load(text)["items"]


def test_ampersands_and_stars_in_strings_are_not_anchors():
    text = HEADER + "items:\n- kind: A\n  data: \"a &b *c\"\n  other: 'x*y&z'\n"
    resource_list = read_resource_list(text)
    assert resource_list.items[0].text is not None
    assert write_resource_list(resource_list) == text


def test_results_are_appended():
    resource_list = read_resource_list(COMPACT)
    resource_list.results = [{"message": "hello", "severity": "info"}]
    out = write_resource_list(resource_list)
    assert out == COMPACT + "results:\n- message: hello\n  severity: info\n"


def test_new_items_are_block_yaml_indented_as_sequence_entries():
    resource_list = read_resource_list(COMPACT)
    resource_list.items.append(
        Item.new({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n"}, "data": {"a": "x\ny\n"}})
    )
    out = write_resource_list(resource_list)
    assert out == COMPACT + (
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: n\n  data:\n    a: |\n      x\n      y\n"
    )


def test_new_items_line_up_with_wide_kept_items():
    resource_list = read_resource_list(WIDE)
    resource_list.items.append(Item.new({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n"}}))
    out = write_resource_list(resource_list)
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
    assert yaml.safe_load(write_stream(read_stream(stream))) == yaml.safe_load(stream)


# --- dump -------------------------------------------------------------------------------------------------------


def test_dump_is_block_style_unicode_unwrapped_and_without_anchors():
    shared = {"k": "v"}
    long = "x" * 300
    text = dump({"a": shared, "b": shared, "c": "ünï", "d": long, "e": [1, 2], "f": "two\nlines\n"})
    assert text == ("a:\n  k: v\nb:\n  k: v\nc: ünï\nd: " + long + "\ne:\n- 1\n- 2\nf: |\n  two\n  lines\n")


def test_dump_keeps_key_order_and_quotes_what_would_change_type():
    text = dump({"z": "1", "a": "true", "m": "", "n": None, "o": "0755"})
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
    assert is_orchestrator_annotation(key) is owned


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
        read_resource_list(text)
    assert str(caught.value) == message


def test_the_source_is_named_in_input_errors():
    with pytest.raises(InputError, match=r"^manifests/a\.yaml: not valid YAML"):
        read_stream("a: [\n", "manifests/a.yaml")


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
    items = read_stream(STREAM)
    assert [item.name for item in items] == ["a", "b"]
    assert write_stream(items) == STREAM.removeprefix("# leading comment\n")


def test_stream_unwraps_lists_and_skips_empty_documents():
    text = "---\n---\napiVersion: v1\nkind: List\nitems:\n- {kind: A, metadata: {name: a}}\n- kind: B\n---\n"
    items = read_stream(text)
    assert [(item.kind, item.name) for item in items] == [("A", "a"), ("B", "")]
    assert read_stream("") == []
    assert write_stream([]) == ""


@pytest.mark.parametrize(
    "text", ["kind: A\n---\n", "---\nkind: A\n", "kind: A\n---\n# comment\n", "---\n---\nkind: A\n"]
)
def test_stream_empty_documents_from_stray_separators_are_skipped(text):
    assert [item.kind for item in read_stream(text)] == ["A"]


def test_stream_mixes_kept_text_and_dumps():
    items = read_stream(STREAM)
    items.append(Item.new({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "c"}}))
    out = write_stream(items)
    assert out == STREAM.removeprefix("# leading comment\n") + (
        "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: c\n"
    )


def test_stream_documents_must_be_objects():
    message = r"^stdin: document 2 is not an object \(got a list\): each document must be a Kubernetes object$"
    with pytest.raises(InputError, match=message):
        read_stream("kind: A\n---\n- 1\n")


# --- bytes: BOM, line breaks, encodings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"\xef\xbb\xbfkind: A\n", "kind: A\n"),
        (b"kind: A\r\nx: 1\r\n", "kind: A\nx: 1\n"),
        (b"kind: A\rx: 1\r", "kind: A\nx: 1\n"),
        (b"\xef\xbb\xbfa: |\r\n  one\r\n\r\n  two\r\n", "a: |\n  one\n\n  two\n"),
        ("kind: é\u2028\n".encode(), "kind: é\u2028\n"),  # a YAML line break, but kept: columns then do not count
    ],
    ids=["bom", "crlf", "cr", "bom-crlf-block", "line-separator"],
)
def test_decode_reads_what_yaml_reads(data, text):
    assert decode(data) == text
    assert yaml.safe_load(decode(data)) == yaml.safe_load(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("kind: A\n".encode("utf-16"), "x.yaml: the input is UTF-16 (it starts with a UTF-16 byte order mark): "),
        ("kind: A\n".encode("utf-32"), "x.yaml: the input is UTF-32 (it starts with a UTF-32 byte order mark): "),
        (b"a: 1\nb: \xc3(\n", "x.yaml: not valid UTF-8 at line 2, column 4 (byte 0xc3): "),
        (b"a: \xed\xa0\x80\n", "x.yaml: not valid UTF-8 at line 1, column 4 (byte 0xed): "),  # a surrogate
    ],
    ids=["utf-16", "utf-32", "truncated", "surrogate"],
)
def test_decode_refuses_what_is_not_utf8_and_says_where(data, message):
    with pytest.raises(InputError) as caught:
        decode(data, "x.yaml")
    assert str(caught.value) == message + "save it as UTF-8"


def test_a_leading_bom_does_not_shift_the_slices():
    text = "\ufeff" + COMPACT
    assert roundtrip(text) == COMPACT
    assert [item.text for item in read_resource_list(text).items] == [
        item.text for item in read_resource_list(COMPACT).items
    ]


def test_a_bom_at_a_later_document_only_costs_that_document_its_text():
    items = read_stream("kind: A\n---\n\ufeff{kind: 'B'}\n")
    assert [(item.kind, item.text) for item in items] == [("A", "kind: A\n"), ("B", None)]
    assert write_stream(items) == "kind: A\n---\nkind: B\n"


@pytest.mark.parametrize(
    "text", ["%TAG !e! tag:yaml.org,2002:\n---\nkind: A\nx: !e!str 1\n", "kind: A\nx: 'a\u2028b'\n"]
)
def test_text_that_cannot_be_sliced_safely_is_dumped(text):
    [item] = read_stream(text)
    assert item.text is None
    assert yaml.safe_load(write_stream([item])) == yaml.safe_load(text)


# --- anchors and aliases ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",
        "- &x a\n- *x\n",
        "a:\t&x 1\nb:\t*x\n",
        "[&x a, *x]\n",
        "{a: &x 1, b: *x}\n",
        '{"a":&x 1, "b":*x}\n',
        "? &x a\n: *x\n",
        "[? &x a : 1, *x]\n",
        "--- &x\na: 1\n",
        "a: !!str &x 1\nb: *x\n",
        "a: &x-y_1 1\nb: *x-y_1\n",
        "a:\n  &x b: 1\nc: *x\n",
        "a: &x [1,\n  &y 2]\nb: *y\n",
    ],
)
def test_the_anchor_pre_scan_never_misses_an_anchor_or_alias(text):
    positions = []
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.AliasEvent):
            positions.append(event.start_mark.index)
        elif getattr(event, "anchor", None):
            positions.append(text.index("&" + event.anchor, event.start_mark.index))
    assert positions
    assert set(positions) <= set(marks(text))


def test_marks_skip_shell_text():
    assert marks("script: |\n  a && b || c\n  ls *.txt\n  x=&& y\n") == []


@pytest.mark.parametrize(
    "text",
    ["*a", "&", "a: *", "a: &b\n*c", "[&a 1, *a]", "x: '&a' *b &c", "\ufeff&a 1", "a:&b *c\n- *-x\n? &_y", "&&a **b"],
)
def test_marks_are_the_anchor_token_pattern_after_a_separator(text):
    """The str.find scan finds what its definition says: [&*][0-9A-Za-z_-] at the start or after a separator."""
    defined = [m.start() for m in re.finditer(r"[&*][0-9A-Za-z_-]", text)]
    assert marks(text) == [m for m in defined if not m or text[m - 1] in " \t\n\r\x85\u2028\u2029\ufeff[{,:?"]


def test_an_item_with_its_own_anchors_keeps_its_text_and_the_alias_resolves():
    own = "- kind: A\n  base: &b {x: 1}\n  copy: *b\n  list: [*b, *b]\n"
    resource_list = read_resource_list(HEADER + "items:\n" + own)
    [item] = resource_list.items
    assert item.text == own
    assert item.obj == {"kind": "A", "base": {"x": 1}, "copy": {"x": 1}, "list": [{"x": 1}, {"x": 1}]}


def test_an_anchor_in_the_header_makes_only_the_items_aliasing_it_dumps():
    text = "apiVersion: &v config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- kind: A\n  v: *v\n- kind: B\n"
    resource_list = read_resource_list(text)
    assert [item.text for item in resource_list.items] == [None, "- kind: B\n"]
    assert write_resource_list(resource_list).endswith("items:\n- kind: A\n  v: config.kubernetes.io/v1\n- kind: B\n")


def test_a_function_config_aliasing_an_item_is_dumped_and_the_item_kept():
    text = HEADER + "items:\n- kind: A\n  x: &x 5\nfunctionConfig:\n  kind: C\n  n: *x\n"
    resource_list = read_resource_list(text)
    assert resource_list.items[0].text == "- kind: A\n  x: &x 5\n"
    assert resource_list.function_config_text is None
    assert resource_list.function_config == {"kind": "C", "n": 5}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            HEADER
            + "items:\n- kind: A\n  a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
            + "".join(f"  {c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcd", "bcde", strict=True)),
            "stdin: ResourceList.items[0] (A/(no name)): its YAML aliases expand to 123,463 nodes, more than the "
            "100,000 allowed (an alias bomb?): write the values out instead of aliasing them",
        ),
        (
            HEADER + "items:\n- kind: A\n  a: &a {b: [*a]}\n",
            "stdin: ResourceList.items[0] (A/(no name)): a YAML alias refers to a node that contains it (a recursive "
            "alias): no object can be written out from it; replace the alias with the values",
        ),
        (
            "&r {apiVersion: v1, kind: ResourceList, items: [{kind: A, r: *r}]}\n",
            "stdin: ResourceList.items[0] (A/(no name)): a YAML alias refers to a node that contains it (a recursive "
            "alias): no object can be written out from it; replace the alias with the values",
        ),
    ],
    ids=["bomb", "recursive", "recursive-root"],
)
def test_alias_bombs_and_recursion_are_refused_before_anything_expands(text, message):
    with pytest.raises(InputError) as caught:
        read_resource_list(text)
    assert str(caught.value) == message
    assert caught.value.resource_list is not None  # a failure still echoes the input


def test_aliases_that_add_a_little_are_fine():
    text = (
        HEADER
        + "items:\n- kind: A\n  a: &a ["
        + ", ".join(["x"] * 1000)
        + "]\n"
        + "".join(f"  b{i}: *a\n" for i in range(90))
    )
    [item] = read_resource_list(text).items
    assert item.text is not None and len(item.obj["b89"]) == 1000


# --- the forms kpt and people write -----------------------------------------------------------------------------


def test_an_item_under_a_head_comment_on_its_dash_keeps_its_text():
    """kpt writes `- # comment` with the item on the next line."""
    first = "- # the head comment\n  kind: A\n  x: 'q'\n"
    second = "-\n\n  # another\n  kind: B\n"
    resource_list = read_resource_list(HEADER + "items:\n" + first + second)
    assert [item.text for item in resource_list.items] == [first, second]
    assert write_resource_list(resource_list) == HEADER + "items:\n" + first + second


def test_entries_with_more_space_after_the_dash_keep_their_columns():
    text = HEADER + "items:\n-   kind: A\n    x: 1\n-  kind: B\n"
    resource_list = read_resource_list(text)
    assert [item.text for item in resource_list.items] == ["-   kind: A\n    x: 1\n", "-  kind: B\n"]
    assert roundtrip(text) == text


def test_a_date_that_is_no_date_reads_as_its_text():
    [item] = read_stream("kind: A\nwhen: 2024-02-30\nok: 2024-02-28\n")
    assert item.obj["when"] == "2024-02-30"
    assert str(item.obj["ok"]) == "2024-02-28"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("kind: A\n? [a]\n: 1\n", "cannot read the value at line 2, column 3: found unhashable key"),
    ],
    ids=["unhashable-key"],
)
def test_values_python_cannot_build_are_input_errors_naming_the_item(document, message):
    [item] = read_stream(document, "m.yaml")
    assert item.text == document  # passed through untouched as long as nobody reads it
    with pytest.raises(InputError) as caught:
        item.obj  # noqa: B018
    assert str(caught.value) == f"m.yaml: document 1 (A/(no name)): {message}"


@pytest.mark.parametrize("digits", ["9" * 65, "9" * 5000, "-1_000" + "0" * 4400])
def test_an_integer_of_more_than_64_digits_says_its_length_and_is_written_out_as_read(digits):
    """Never converted (Python refuses 4300 digits, and converting is quadratic): larger than any field allows,
    and dumped as the digits it came as."""
    [item] = read_stream(f"kind: A\nx: {digits}\n")
    value = item.obj["x"]
    assert isinstance(value, HugeInt) and value > 2**64
    assert repr(value) == f"an integer of {len(digits.replace('_', '').lstrip('-'))} digits"
    item.text = None
    assert write_stream([item]) == f"kind: A\nx: {digits}\n"


def test_an_item_too_deep_to_dump_is_an_input_error():
    [item] = read_stream("kind: A\nx: " + "[" * 700 + "]" * 700 + "\n")
    item.text = None
    with pytest.raises(InputError, match=r"^stdin: document 1 \(A/\(no name\)\): nested too deeply to write out$"):
        write_stream([item])


# --- config files -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\n---\nb: 2\n", "c.yaml: cannot read the config: expected one YAML document, got 2"),
        (
            "a: [\n",
            "c.yaml: cannot read the config: not valid YAML at line 2, column 1: did not find expected node content",
        ),
        (
            "a: &a {b: *a}\n",
            "c.yaml: cannot read the config: a YAML alias refers to a node that contains it (a "
            "recursive alias): no object can be written out from it; replace the alias with the values",
        ),
    ],
)
def test_config_files(text, message):
    with pytest.raises(InputError) as caught:
        read_config_text(text, "c.yaml")
    assert str(caught.value) == message
    assert read_config_text("\ufeffspec: &s {a: 1}\nother: *s\n", "c.yaml") == {"spec": {"a": 1}, "other": {"a": 1}}
    assert read_config_text("", "c.yaml") is None


# --- failures echo the input ------------------------------------------------------------------------------------

RESULTS = [{"message": "bad", "severity": "error"}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (COMPACT, "results:\n- message: bad\n  severity: error\n" + COMPACT),
        (
            "# head\n" + HEADER + "results:\n- message: old\n  severity: info\nitems:\n- kind: A  # c\n",
            "# head\nresults:\n- message: bad\n  severity: error\n" + HEADER + "items:\n- kind: A  # c\n",
        ),
        (
            HEADER + "items:\n- kind: A\nresults: [{message: old}]  # trailing\n",
            "results:\n- message: bad\n  severity: error\n" + HEADER + "items:\n- kind: A\n  # trailing\n",
        ),
        (
            "---\n  apiVersion: v1\n  kind: ResourceList\n  items:\n  - kind: A\n",
            "---\n  results:\n  - message: bad\n    severity: error\n  apiVersion: v1\n  kind: ResourceList\n  items:\n"
            "  - kind: A\n",
        ),
        (
            '{"apiVersion": "v1", "kind": "ResourceList", "items": [{"kind": "A"}]}\n',
            '{results: [{"message": "bad", "severity": "error"}], "apiVersion": "v1", "kind": "ResourceList", '
            '"items": [{"kind": "A"}]}\n',
        ),
        (
            HEADER + "items:\n- kind: A\n  x: |\n    no newline at the end",
            "results:\n- message: bad\n  severity: error\n" + HEADER + "items:\n- kind: A\n  x: |\n    no newline at "
            "the end",
        ),
    ],
    ids=["plain", "old-results-first", "old-results-last", "indented", "flow", "no-final-newline"],
)
def test_a_failure_writes_the_input_back_with_the_results(text, expected):
    resource_list = read_resource_list(text)
    resource_list.results = RESULTS
    out = write_failure(resource_list)
    assert out == expected
    assert yaml.safe_load(out)["results"] == RESULTS
    assert yaml.safe_load(out)["items"] == yaml.safe_load(text)["items"]


def test_a_failure_that_cannot_be_spliced_falls_back_to_the_items():
    text = "? apiVersion\n: v1\nkind: ResourceList\nitems:\n- kind: A  # c\n"
    resource_list = read_resource_list(text)
    resource_list.results = RESULTS
    assert write_failure(resource_list) == (
        "apiVersion: v1\nkind: ResourceList\nitems:\n- kind: A  # c\nresults:\n- message: bad\n  severity: error\n"
    )


SCALARS = """\
- [~, null, Null, "", '', true, True, yes, No, on, OFF, y, n]
- [0, -1, +2, 0o17, 017, 0x1F, 0b101, 1_000, 190:20:30, 1.5, -.5, 1e3, 6.8523015e+5, .inf, -.Inf, .NaN]
- [2001-12-14, 2001-12-14t21:59:43.10-05:00, 2024-02-30, "1", '2.0', =, <<, -, plain text, '#x', a: b]
- <<: {a: 1}
  b: !!str 1
  c: !!int "2"
  d: |-
    block
  ? [k]
  : v
"""


@pytest.mark.parametrize("text", [WIDE, SCALARS], ids=["wide", "scalars"])
def test_the_fast_composer_resolves_every_tag_as_pyyaml_does(text):
    """Plain scalars are composed unresolved; asked for (tag_of) or before construction, their tags are
    PyYAML's."""

    def tags(node, tag):
        yield tag(node)
        for child in node.value if isinstance(node.value, list) else ():
            for part in child if isinstance(child, tuple) else (child,):
                yield from tags(part, tag)

    def as_composed(node):
        return node.tag

    theirs = [list(tags(node, as_composed)) for node in yaml.compose_all(text, Loader=yaml.CSafeLoader)]
    composed = list(compose(text, "test"))
    unresolved = [tag for node in composed for tag in tags(node, as_composed) if tag == ""]
    assert len(unresolved) > 30
    assert [list(tags(node, tag_of)) for node in composed] == theirs and len(theirs[0]) > 40
    for node in composed:
        resolve_plain_tags(node)
    assert [list(tags(node, as_composed)) for node in composed] == theirs


# Values near every resolver's pattern: each tag's own examples, and their neighbours a character away.
CASES = (str.lower, str.upper, str.title, str.swapcase, lambda word: word + "\n", lambda word: word + "\n\n")
RESOLVER_EDGES = [
    *("yes", "No", "OFF", "FALSE", "FALSE\n", "null", "NULL\n", "~", "~\n", "", "y", "nulls", "False_", "ON\n\n"),
    *("0", "7", "00", "017", "018", "08", "0_7", "0b101", "-0b1", "0x1F", "+0x_", "1_000", "190:20:30", "1:60"),
    *("12345678901234567890", "-1", "+2", "-", "+", "1\n", "1\n\n", "0\n", "١٢٣", "12³", "1 ", " 1"),
    *("1.5", "-.5", ".5", "1.", "1e3", "1.0e+3", "1.0e3", "6.2.1106", "190:20:30.15", ".inf", "-.Inf", ".NaN"),
    *(".nan", "+.nan", "1.5\n", "1..5", "10.0.0.0/8", "100m", "1Gi", "2.5Gi", "3s", "0.0.0.0"),
    *("2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2024-02-30", "2001-1-1"),
    *("2001-12-14\n", "20011-12-14", "2001-12", "9999-99-99T99:99:99Z", "2001-12-14T1:00:00"),
    *("<<", "<<<", "=", "==", "!", "&", "*", "!!", "&a", "*a", "-c", "-f", "3003ecca", "0x3003ecca", "-0x1F"),
    *("+0b1", "0b2", "0o17", "1_0:3", "--1", "+-1", "-0x", "0xg", "0b", "-b1", "1:2:3", "9:99"),
    *(case(word) for word in ("yes", "no", "true", "false", "on", "off", "null", "y") for case in CASES),
]


def reference_tag(value):
    return yaml.resolver.Resolver().resolve(yaml.ScalarNode, value, (True, False))


def test_plain_tags_are_pyyamls_near_every_pattern():
    composed = {value: tag_of(yaml.ScalarNode("", value)) for value in RESOLVER_EDGES}
    assert composed == {value: reference_tag(value) for value in RESOLVER_EDGES}
    # Control: the edges reach every tag, so a resolver skipped wrongly cannot hide behind strings alone.
    assert {tag.rsplit(":", 1)[1] for tag in composed.values()} == {
        *("bool", "null", "int", "float", "timestamp", "merge", "value", "yaml", "str"),
    }


@hypothesis.settings(max_examples=3000, deadline=None)
@hypothesis.given(
    hypothesis.strategies.text(alphabet="0123456789_-+.:eExXbBoOaAfFnNiItTyYlLsSuU~<=!&* \n\t٣³Z", max_size=32)
)
def test_plain_tags_are_pyyamls_for_any_text_of_their_characters(value):
    assert tag_of(yaml.ScalarNode("", value)) == reference_tag(value)


def test_construction_resolves_merge_keys_and_plain_scalars_first():
    (node,) = compose("base: &b {x: 1, y: 2024-02-30}\nitem:\n  <<: *b\n  z: [true, ~, 0x1F]\n", "t")
    assert construct(node, "t") == {
        "base": {"x": 1, "y": "2024-02-30"},
        "item": {"x": 1, "y": "2024-02-30", "z": [True, None, 31]},
    }


def test_the_fast_dumper_quotes_every_scalar_as_pyyaml_does():
    class Reference(yaml.CSafeDumper):
        yaml_representers = Dumper.yaml_representers

        def ignore_aliases(self, data):
            return True

    rows = "\n".join(SCALARS.splitlines()[:3]).replace("2024-02-30, ", "").replace(" =, <<,", "")
    values = yaml.load(rows, Loader=yaml.CSafeLoader)
    strings = [str(value) for row in values for value in row] + ["", "~", "1e3", "0x1F", "2001-12-14", "=", "<<"]
    for data in (values, strings, {text: text for text in strings}):
        expected = yaml.dump(data, Dumper=Reference, sort_keys=False, allow_unicode=True, width=1 << 20)
        assert dump(data) == expected
    dumped = dump(strings).splitlines()
    assert {"- '0x1F'", "- '2001-12-14'", "- '~'", "- ''", "- '1.5'", "- 'True'"} <= set(dumped)
