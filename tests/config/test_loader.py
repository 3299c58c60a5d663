"""The YAML loader: strings only, duplicates and aliases refused, marks that point at file:line:col."""

from __future__ import annotations

import copy
import pickle
import time
from pathlib import Path

import pydantic
import pytest

from edi.config import (
    ConfigFinding,
    Mark,
    MDict,
    MList,
    MStr,
    YamlError,
    load_yaml,
    load_yaml_text,
    mark_of,
    validation_findings,
)
from edi.config.loader import MAX_BYTES, MAX_DEPTH
from edi.errors import EdiError

F70_TOKENS = ["004010", "064", "00", "12:30", "NO", "ON", "yes", "off", "1e3", "0x1F", "~", "null", "true",
              ".inf", "2024-01-01"]


def _error(text: str, name: str = "c.yaml") -> YamlError:
    with pytest.raises(YamlError) as info:
        load_yaml_text(text, name)
    return info.value


# --- F70: implicit typing ------------------------------------------------------------------------


@pytest.mark.parametrize("token", F70_TOKENS)
def test_f70_plain_scalar_stays_string(token: str) -> None:
    """A plain scalar that PyYAML would type loads as the exact string written."""
    tree = load_yaml_text(f"value: {token}\nlist: [{token}]\n")
    assert type(tree["value"]) is MStr
    assert tree["value"] == token
    assert tree["list"] == [token]


@pytest.mark.parametrize("token", F70_TOKENS)
def test_f70_plain_key_stays_string(token: str) -> None:
    """A key that PyYAML would type (``NO:``, ``00:``) stays the string written."""
    assert list(load_yaml_text(f"{token}: x\n")) == [token]


def test_f70_quoted_scalars_are_strings() -> None:
    """Single- and double-quoted scalars and block scalars are strings with escapes applied."""
    tree = load_yaml_text("a: '004010'\nb: \"a\\tb\"\nc: |\n  line\n")
    assert tree == {"a": "004010", "b": "a\tb", "c": "line\n"}


def test_f70_empty_value_is_empty_string() -> None:
    """An empty value (and an empty list item) is ``""``, not None."""
    tree = load_yaml_text("empty:\nitems:\n  -\n  - x\n")
    assert tree == {"empty": "", "items": ["", "x"]}


def test_empty_document_is_empty_string() -> None:
    """An empty file loads as ``""`` marked at 1:1, so the schema reports what is missing."""
    tree = load_yaml_text("# only a comment\n", "e.yaml")
    assert tree == ""
    assert str(tree.mark) == "e.yaml:1:1"


def test_explicit_default_tags_are_accepted() -> None:
    """``!!str``, ``!!map`` and ``!!seq`` on the right kind of node are accepted."""
    assert load_yaml_text("a: !!str 12\nb: !!seq [x]\nc: !!map {k: v}\n") == {"a": "12", "b": ["x"], "c": {"k": "v"}}


# --- F71: duplicate keys -------------------------------------------------------------------------


def test_f71_duplicate_key_rejected_at_second_key() -> None:
    """A repeated key is CFG_DUPLICATE_KEY at the second key, naming the first key's line."""
    err = _error("a: 1\nsub:\n  x: 1\n  y: 2\n  x: 3\n")
    assert err.code == "CFG_DUPLICATE_KEY"
    assert isinstance(err, EdiError)
    assert str(err) == "c.yaml:5:3: CFG_DUPLICATE_KEY duplicate key 'x' (first at line 3)"


def test_f71_duplicate_key_in_flow_mapping() -> None:
    """Duplicates are found in flow mappings too."""
    err = _error("{a: 1, b: 2, a: 3}\n")
    assert err.findings[0].one_line() == "c.yaml:1:14: CFG_DUPLICATE_KEY duplicate key 'a' (first at line 1)"


def test_f71_keys_differing_only_by_quoting_are_duplicates() -> None:
    """``'064'`` and ``064`` are the same key, since both are strings."""
    assert _error("064: a\n'064': b\n").code == "CFG_DUPLICATE_KEY"


# --- F72: every problem collected ----------------------------------------------------------------


def test_f72_loader_collects_every_problem() -> None:
    """Duplicates, aliases, tags and collection keys in one file are all reported in order."""
    err = _error("a: 1\na: 2\nb: &x 1\nc: *x\nd: !!int 3\n? [k]\n: v\n")
    assert [f.code for f in err.findings] == [
        "CFG_DUPLICATE_KEY", "CFG_ALIAS", "CFG_ALIAS", "CFG_TAG", "CFG_KEY_TYPE",
    ]
    assert [f.mark.line for f in err.findings if f.mark] == [2, 3, 4, 5, 6]
    assert err.code == "CFG_DUPLICATE_KEY"
    assert str(err).count("\n") == 4


def test_f72_findings_before_a_syntax_error_are_kept() -> None:
    """A syntax error ends the run but keeps what was found before it."""
    err = _error("a: 1\na: 2\nb: [\n")
    assert [f.code for f in err.findings] == ["CFG_DUPLICATE_KEY", "CFG_SYNTAX"]


# --- F74: aliases, depth, size -------------------------------------------------------------------


def test_f74_alias_rejected() -> None:
    """Anchors and aliases are CFG_ALIAS at their own positions."""
    err = _error("base: &b {x: 1}\nother: *b\n")
    assert [f.one_line() for f in err.findings] == [
        "c.yaml:1:7: CFG_ALIAS anchor '&b' is not allowed",
        "c.yaml:2:8: CFG_ALIAS alias '*b' is not allowed",
    ]


def test_f74_merge_key_with_alias_rejected() -> None:
    """``<<: *base`` is refused (the alias), never merged."""
    assert _error("base: &b {x: 1}\nc:\n  <<: *b\n").code == "CFG_ALIAS"


def test_f74_billion_laughs_rejected_fast() -> None:
    """A billion-laughs document is refused in well under a second, with a bounded finding list."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{cur}: &{cur} [{','.join([f'*{prev}'] * 9)}]")
    start = time.perf_counter()
    err = _error("\n".join(lines) + "\n")
    assert time.perf_counter() - start < 1.0
    assert err.code == "CFG_ALIAS"
    assert len(err.findings) <= 101


def test_f74_nesting_at_limit_accepted() -> None:
    """Exactly MAX_DEPTH nested collections load."""
    tree = load_yaml_text("[" * MAX_DEPTH + "x" + "]" * MAX_DEPTH)
    for _ in range(MAX_DEPTH - 1):
        tree = tree[0]
    assert tree == ["x"]


def test_f74_deep_nesting_rejected() -> None:
    """One level past MAX_DEPTH is CFG_TOO_DEEP at the collection that crosses it."""
    err = _error("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert err.findings[0].one_line() == f"c.yaml:1:{MAX_DEPTH + 1}: CFG_TOO_DEEP nesting deeper than 50 levels"


def test_f74_very_deep_block_nesting_rejected_without_recursion() -> None:
    """A thousand nested block mappings are rejected once, not with a RecursionError."""
    text = "".join(f"{' ' * i}k:\n" for i in range(1_000)) + " " * 1_000 + "v\n"
    err = _error(text)
    assert [f.code for f in err.findings] == ["CFG_TOO_DEEP"]
    assert err.findings[0].mark == Mark("c.yaml", MAX_DEPTH + 1, MAX_DEPTH + 1)


def test_f74_big_file_rejected(tmp_path: Path) -> None:
    """A file over 1 MiB is CFG_TOO_LARGE before it is parsed."""
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: " + b"x" * MAX_BYTES + b"\n")
    with pytest.raises(YamlError) as info:
        load_yaml(path)
    assert info.value.code == "CFG_TOO_LARGE"
    assert str(info.value).startswith(f"{path}: CFG_TOO_LARGE the file is ")


def test_f74_big_text_rejected() -> None:
    """load_yaml_text applies the same size bound."""
    assert _error("#" * (MAX_BYTES + 1)).code == "CFG_TOO_LARGE"


# --- other loader errors -------------------------------------------------------------------------


def test_syntax_error_has_problem_mark() -> None:
    """A YAML syntax error is CFG_SYNTAX at the parser's problem mark."""
    err = _error("a: 1\n  b: 2\n")
    assert err.findings[0].one_line() == "c.yaml:2:4: CFG_SYNTAX mapping values are not allowed here"


def test_unknown_tag_rejected() -> None:
    """A tag other than the default str/map/seq is CFG_TAG, shown short."""
    err = _error("a: !!int 3\nb: !!python/object:os.system x\nc: !!map [x]\n")
    assert [f.message for f in err.findings] == [
        "tag '!!int' is not allowed",
        "tag '!!python/object:os.system' is not allowed",
        "tag '!!map' is not allowed",
    ]


def test_collection_key_rejected() -> None:
    """A mapping used as a key is CFG_KEY_TYPE."""
    err = _error("? {a: b}\n: c\n")
    assert err.findings[0].one_line() == "c.yaml:1:3: CFG_KEY_TYPE a mapping cannot be a key"


def test_second_document_rejected() -> None:
    """A file holds one YAML document."""
    assert _error("a: 1\n---\nb: 2\n").findings[0].mark == Mark("c.yaml", 2, 1)


def test_control_character_rejected() -> None:
    """A NUL character is CFG_ENCODING at its position."""
    finding = _error("a: b\x00\n").findings[0]
    assert finding.one_line() == "c.yaml:1:5: CFG_ENCODING character #x0000 is not allowed in YAML"


def test_non_utf8_file_rejected(tmp_path: Path) -> None:
    """A file that is not UTF-8 is CFG_ENCODING."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes("a: café\n".encode("latin-1"))
    with pytest.raises(YamlError) as info:
        load_yaml(path)
    assert info.value.code == "CFG_ENCODING"
    assert info.value.findings[0].mark == Mark(str(path), 1, 7)


def test_missing_file_is_yaml_error(tmp_path: Path) -> None:
    """An unreadable file is CFG_UNREADABLE naming the path."""
    with pytest.raises(YamlError) as info:
        load_yaml(tmp_path / "absent.yaml")
    assert info.value.code == "CFG_UNREADABLE"
    assert str(info.value).startswith(f"{tmp_path / 'absent.yaml'}: CFG_UNREADABLE")


def test_yaml_error_survives_pickle() -> None:
    """YamlError pickles with its findings (for process pools)."""
    err = _error("a: 1\na: 2\n")
    again = pickle.loads(pickle.dumps(err))
    assert again.findings == err.findings
    assert str(again) == str(err)


def test_finding_without_mark_uses_file() -> None:
    """A finding without a mark reads ``file: CODE message``."""
    assert ConfigFinding("CFG_X", "msg", None, file="f.yaml").one_line() == "f.yaml: CFG_X msg"


# --- marks ---------------------------------------------------------------------------------------

MARKED = """\
version: 004010
partner:
  name: Amazon
  ids: [AMZN, '064']
connectors:
  - name: sftp-in
    poll: 60
  -   name: as2
"""


def test_marks_of_keys_and_values() -> None:
    """Mappings record 1-based key and value marks; a nested block value starts on its own line."""
    tree = load_yaml_text(MARKED, "m.yaml")
    assert isinstance(tree, MDict)
    assert str(tree.mark) == "m.yaml:1:1"
    assert str(tree.key_marks["version"]) == "m.yaml:1:1"
    assert str(tree.value_marks["version"]) == "m.yaml:1:10"
    assert str(tree["version"].mark) == "m.yaml:1:10"
    assert str(tree.key_marks["partner"]) == "m.yaml:2:1"
    assert str(tree.value_marks["partner"]) == "m.yaml:3:3"
    assert str(tree["partner"].value_marks["name"]) == "m.yaml:3:9"


def test_marks_of_list_items() -> None:
    """Sequences record the mark of every item, flow and block."""
    tree = load_yaml_text(MARKED, "m.yaml")
    ids = tree["partner"]["ids"]
    assert isinstance(ids, MList)
    assert [str(m) for m in ids.item_marks] == ["m.yaml:4:9", "m.yaml:4:15"]
    assert ids[1] == "064"
    connectors = tree["connectors"]
    assert [(m.line, m.column) for m in connectors.item_marks] == [(6, 5), (8, 7)]
    assert connectors[1].key_marks["name"] == Mark("m.yaml", 8, 7)


def test_marks_from_file(tmp_path: Path) -> None:
    """load_yaml names the file in every mark."""
    path = tmp_path / "c.yaml"
    path.write_text(MARKED, encoding="utf-8")
    assert load_yaml(str(path))["connectors"][0]["poll"].mark == Mark(str(path), 7, 11)


def test_marked_tree_copies_and_pickles() -> None:
    """Marks survive deepcopy and pickle."""
    tree = load_yaml_text(MARKED, "m.yaml")
    for clone in (copy.deepcopy(tree), pickle.loads(pickle.dumps(tree))):
        assert clone == tree
        assert clone.value_marks == tree.value_marks
        assert clone["partner"]["ids"][1].mark == tree["partner"]["ids"][1].mark


# --- pydantic locations --------------------------------------------------------------------------


class _Sftp(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    host: str
    port: int


class _Connector(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    name: str
    poll_interval_seconds: int
    sftp: _Sftp


class _Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    version: str
    connectors: list[_Connector]


SETTINGS = """\
version: 004010
connectors:
  - name: amazon
    poll_interval_seconds: often
    sftp:
      host: h
      port: '22'
      colour: blue
  - name: other
    poll_interval_seconds: 60
    sftp:
      host: h2
    extra_field:
      nested: x
"""


def _settings_findings() -> list[ConfigFinding]:
    tree = load_yaml_text(SETTINGS, "s.yaml")
    with pytest.raises(pydantic.ValidationError) as info:
        _Settings.model_validate(tree)
    return validation_findings(info.value, tree)


def test_valid_tree_validates_with_strings_typed_by_pydantic() -> None:
    """Pydantic types the strings: ``004010`` stays a str, ``'22'`` becomes 22."""
    tree = load_yaml_text("version: 004010\nconnectors:\n  - {name: a, poll_interval_seconds: 060, "
                          "sftp: {host: h, port: 22}}\n")
    settings = _Settings.model_validate(tree)
    assert settings.version == "004010"
    assert settings.connectors[0].poll_interval_seconds == 60


def test_f72_wrong_type_points_at_value() -> None:
    """A wrong type is reported at the value's line and column."""
    findings = _settings_findings()
    wrong = next(f for f in findings if "poll_interval_seconds" in f.message)
    assert wrong.one_line().startswith("s.yaml:4:28: CFG_INVALID connectors.0.poll_interval_seconds: Input should")


def test_f72_unknown_field_points_at_key() -> None:
    """An unknown field is reported at its key, even when its value starts on the next line."""
    findings = {f.message.split(":")[0]: f for f in _settings_findings()}
    assert str(findings["connectors.0.sftp.colour"].mark) == "s.yaml:8:7"
    assert str(findings["connectors.1.extra_field"].mark) == "s.yaml:13:5"


def test_f72_missing_field_points_at_parent_mapping() -> None:
    """A missing field is reported at the mapping that lacks it."""
    findings = {f.message.split(":")[0]: f for f in _settings_findings()}
    assert str(findings["connectors.1.sftp.port"].mark) == "s.yaml:12:7"


def test_f72_all_validation_errors_reported() -> None:
    """Every pydantic error becomes one finding; none is dropped after the first."""
    findings = _settings_findings()
    assert sorted(f.message.split(":")[0] for f in findings) == [
        "connectors.0.poll_interval_seconds",
        "connectors.0.sftp.colour",
        "connectors.1.extra_field",
        "connectors.1.sftp.port",
    ]
    assert {f.code for f in findings} == {"CFG_INVALID"}
    assert all(f.mark is not None and f.mark.file == "s.yaml" for f in findings)


def test_mark_of_walks_keys_and_indexes() -> None:
    """mark_of follows keys and list indexes and stops at the deepest node reached."""
    tree = load_yaml_text(SETTINGS, "s.yaml")
    assert mark_of(tree, ()) == Mark("s.yaml", 1, 1)
    assert mark_of(tree, ("connectors", 1, "sftp", "host")) == Mark("s.yaml", 12, 13)
    assert mark_of(tree, ("connectors", 1, "sftp", "host"), key=True) == Mark("s.yaml", 12, 7)
    assert mark_of(tree, ("connectors", 5, "name")) == Mark("s.yaml", 3, 3)
    assert mark_of(tree, ("connectors", 0, "absent")) == Mark("s.yaml", 3, 5)
    assert mark_of(tree, ("connectors", "union-tag", 0, "name")) == Mark("s.yaml", 3, 11)
    assert mark_of({"plain": "dict"}, ("plain",)) is None


def test_f74_very_deep_flow_nesting_rejected_once() -> None:
    """A hundred thousand nested flow sequences are one CFG_TOO_DEEP, not a RecursionError."""
    err = _error("[" * 100_000 + "]" * 100_000)
    assert [f.code for f in err.findings] == ["CFG_TOO_DEEP"]
