"""Input the gate cannot read is an input error (exit 2), never a crash, a hang or a finding."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from promstack.validate import Finding, InputError, loader, validate_paths
from promstack.validate.cli import main
from promstack.validate.gate import run as run_gate

FIX = Path(__file__).parent / "fixtures"
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n"


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def input_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the CLI; it must exit 2 with one error line on stderr and print no finding."""
    assert main([*args, "--skip-promtool"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("promstack validate: error: "), err
    return lines[0].removeprefix("promstack validate: error: ")


# -- nesting: refused before libyaml builds anything ------------------------------------------


def test_100000_deep_nesting_is_refused_not_a_segfault(tmp_path: Path) -> None:
    # libyaml's composer recursed until the C stack overflowed: exit 139, no message.
    write(tmp_path, "deep.yaml", "a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "promstack.validate", str(tmp_path), "--skip-promtool"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 2, done.stderr[-500:]
    assert done.stdout == ""
    assert done.stderr == (
        f"promstack validate: error: {tmp_path / 'deep.yaml'}:1:203: refused: nested deeper than 200 levels, "
        "the most the gate reads: flatten it\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 5000 + "]" * 5000 + "\n",  # flow
        "".join(" " * i + "- \n" for i in range(5000)),  # block, one level per line
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: " + "{a: " * 5000 + "}" * 5000 + "\n",
    ],
    ids=["flow", "block", "inside-an-object"],
)
def test_5000_deep_nesting_is_an_input_error_not_a_recursion_error(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "deep.yaml", text)
    assert "refused: nested deeper than 200 levels" in input_error(capsys, str(tmp_path))


def test_nesting_up_to_the_limit_is_read_and_checked(tmp_path: Path) -> None:
    # 199 levels below metadata.labels: the object is read whole and every check copes with it.
    text = NAMESPACE + "  labels:\n    a: " + "[" * 197 + "]" * 197 + "\n"
    write(tmp_path, "ok.yaml", text)
    findings = validate_paths([tmp_path], run_promtool=False)
    assert [f.path for f in findings] == ["metadata.labels.a"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # a billion laughs: 9 levels of 10 aliases each
        (
            "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)),
            "aliases expand it by more than 100000 nodes: write it out without aliases",
        ),
        ("a: &x [1, *x]\n", "alias *x refers to a node that contains it: remove the alias"),
        # merge keys chained 300 times: flattening them recursed once per link
        (
            "m0: &m0 {k: v}\n" + "".join(f"m{i}: &m{i} {{<<: *m{i - 1}, k{i}: v}}\n" for i in range(1, 300)),
            "nests it deeper than 200 levels, the most the gate reads: flatten it",
        ),
    ],
    ids=["billion-laughs", "recursive-alias", "merge-chain"],
)
def test_alias_bombs_are_refused(text: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "bomb.yaml", text)
    assert message in input_error(capsys, str(tmp_path))


# -- files and folders -----------------------------------------------------------------------


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    write(tmp_path, "namespace.yaml", NAMESPACE)
    os.mkfifo(tmp_path / "pipe.yaml")
    # Before: open() waited for a writer forever. In a child process so a regression cannot hang the suite.
    done = subprocess.run(
        [sys.executable, "-m", "promstack.validate", str(tmp_path), "--skip-promtool"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"promstack validate: error: {tmp_path / 'pipe.yaml'}: a fifo, not a regular file: "
        "manifests are read from regular files only\n"
    )


def test_a_device_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "null.yaml").symlink_to("/dev/null")
    assert input_error(capsys, str(tmp_path)).endswith(
        "null.yaml: a character device, not a regular file: manifests are read from regular files only"
    )


def test_a_file_over_the_size_cap_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert loader.MAX_FILE_BYTES == 50 * 1024 * 1024
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 1024 * 1024)
    write(tmp_path, "big.yaml", NAMESPACE + "# " + "x" * (1024 * 1024) + "\n")
    assert input_error(capsys, str(tmp_path)) == (
        f"{tmp_path / 'big.yaml'}: larger than 1 MiB, the most read from one manifest file: split it"
    )


def test_non_utf8_is_an_input_error_with_line_and_byte(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "latin1.yaml", NAMESPACE.encode() + b"  annotations:\n    note: caf\xe9\n")
    assert input_error(capsys, str(tmp_path)) == (
        f"{tmp_path / 'latin1.yaml'}:6: not UTF-8 (byte 0xe9 at offset 82): save the file as UTF-8"
    )


def test_a_control_character_is_one_line_naming_the_code_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "nul.yaml", NAMESPACE + "  annotations:\n    note: a\x00b\n")
    assert input_error(capsys, str(tmp_path)) == (
        f"{tmp_path / 'nul.yaml'}:6:12: invalid YAML: U+0000 is not allowed in YAML; "
        "remove it or write it as an escape in a double-quoted string"
    )


def test_an_unreadable_folder_is_an_input_error_not_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # os.walk ignored folders it could not list, so their manifests were never checked. Tests run
    # as root here, where chmod 000 does not stop a read, so the listing itself is made to fail.
    write(tmp_path, "namespace.yaml", NAMESPACE)
    write(tmp_path, "secret/plain.yaml", "apiVersion: v1\nkind: Secret\n")
    scandir = os.scandir

    def refuse(path: str | os.PathLike[str]) -> Iterator[os.DirEntry[str]]:
        if str(path).endswith("secret"):
            raise PermissionError(13, "Permission denied")
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)
    assert input_error(capsys, str(tmp_path)) == (
        f"{tmp_path / 'secret'}: cannot read folder (Permission denied): fix its permissions or remove it"
    )


def test_an_unreadable_file_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "namespace.yaml", NAMESPACE)
    real_open = os.open

    def refuse(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        if str(path).endswith("namespace.yaml"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", refuse)
    assert input_error(capsys, str(tmp_path)) == (
        f"{tmp_path / 'namespace.yaml'}: cannot read (Permission denied): check that it exists and is readable"
    )


def test_symlink_loops_are_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "dist/namespace.yaml", NAMESPACE)
    (tmp_path / "dist" / "again").symlink_to(tmp_path / "dist")  # a folder that contains itself
    assert input_error(capsys, str(tmp_path / "dist")) == (
        f"{tmp_path / 'dist' / 'again'}: symlink loop: it leads back to a folder that contains it; remove the link"
    )
    (tmp_path / "dist" / "again").unlink()
    (tmp_path / "dist" / "self.yaml").symlink_to(tmp_path / "dist" / "self.yaml")
    assert input_error(capsys, str(tmp_path / "dist")) == (
        f"{tmp_path / 'dist' / 'self.yaml'}: symlink loop: replace the link with the file or folder it should name"
    )
    assert input_error(capsys, str(tmp_path / "dist" / "self.yaml")).endswith("self.yaml: symlink loop: "
                                                                              "replace the link with the file or "
                                                                              "folder it should name")


def test_a_dangling_manifest_link_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "namespace.yaml", NAMESPACE)
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    assert "gone.yaml: cannot read (No such file or directory)" in input_error(capsys, str(tmp_path))


def test_symlinked_folders_are_followed(tmp_path: Path) -> None:
    write(tmp_path, "elsewhere/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: demo}\n"
                                             "stringData: {a: b}\n")
    write(tmp_path, "dist/namespace.yaml", NAMESPACE)
    (tmp_path / "dist" / "linked").symlink_to(tmp_path / "elsewhere")
    findings = validate_paths([tmp_path / "dist"], run_promtool=False)
    assert ("Secret", "stringData") in {(f.kind, f.path) for f in findings}


def test_long_input_is_clipped_in_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "tag.yaml", "a: !" + "x" * 5000 + " b\n")
    line = input_error(capsys, str(tmp_path))
    assert line.startswith(f"{tmp_path / 'tag.yaml'}:1:4: invalid YAML: could not determine a constructor")
    assert len(line) < len(str(tmp_path)) + 140


# -- a crash is never findings ---------------------------------------------------------------


def test_a_check_running_out_of_stack_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from promstack.validate import policy

    def overflow(*_: object) -> list[Finding]:
        raise RecursionError("maximum recursion depth exceeded")

    write(tmp_path, "namespace.yaml", NAMESPACE)
    monkeypatch.setattr(policy, "check_policy", overflow)
    assert input_error(capsys, str(tmp_path)) == (
        f"{tmp_path / 'namespace.yaml'} (document 1): nested too deeply to check: flatten it"
    )


def test_a_bug_in_a_check_exits_3_not_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from promstack.validate import wiring

    def broken(*_: object) -> list[Finding]:
        raise KeyError("spec")

    write(tmp_path, "namespace.yaml", NAMESPACE)
    monkeypatch.setattr(wiring, "check_wiring", broken)
    assert main([str(tmp_path), "--skip-promtool"]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "promstack validate: internal error: KeyError: 'spec' (a bug in the gate, not a finding: please report it)\n"
    )


def test_input_errors_raise_from_the_api(tmp_path: Path) -> None:
    (tmp_path / "null.yaml").symlink_to("/dev/null")
    with pytest.raises(InputError, match="a character device, not a regular file"):
        run_gate([tmp_path], run_promtool=False)


# -- keys --------------------------------------------------------------------------------------


def test_duplicate_keys_are_findings_never_last_wins() -> None:
    file = str(FIX / "input-duplicate-keys" / "manifests.yaml")
    message = "duplicate key: strict validation refuses it and readers differ on which value wins; keep one"
    assert [f for f in validate_paths([FIX / "input-duplicate-keys"], run_promtool=False) if f.check == "schema"] == [
        Finding(file, "ConfigMap", "demo", "web", "data.a", message, "schema"),
        Finding(file, "ConfigMap", "demo", "web", 'metadata.labels["app.kubernetes.io/name"]', message, "schema"),
    ]


def test_non_string_keys_are_findings_and_crash_no_check() -> None:
    # ConfigMap data keys 1, true, null: promtool's rule-file detection called key.endswith on them.
    file = str(FIX / "input-non-string-keys" / "manifests.yaml")
    findings = validate_paths([FIX / "input-non-string-keys"])
    assert findings == [
        Finding(file, "ConfigMap", "demo", "web", "data.1",
                "key '1' is an integer in YAML, not a string: quote it", "schema"),
        Finding(file, "ConfigMap", "demo", "web", "data.null",
                "key 'null' is null in YAML, not a string: quote it", "schema"),
        Finding(file, "ConfigMap", "demo", "web", "data.true",
                "key 'true' is a boolean in YAML, not a string: quote it", "schema"),
    ]


def test_a_tracked_file_that_cannot_be_read_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The private-key scan of --tracked skipped files it could not read: a key there went unseen.
    from promstack.validate import policy

    write(tmp_path, "namespace.yaml", NAMESPACE)
    monkeypatch.setattr(policy, "tracked_files", lambda repo: [("secret.pem", tmp_path / "missing.pem")])
    assert input_error(capsys, str(tmp_path), "--tracked", str(tmp_path)) == (
        "secret.pem: cannot read (No such file or directory) to look for private keys: check that it is readable"
    )


def test_anchors_and_merge_keys_read_as_yaml_says_without_false_duplicates() -> None:
    from promstack.validate import yamlsafe

    text = (
        "base: &base {a: 1, b: 2}\nother: &other {c: 3}\n"
        "m:\n  <<: [*base, *other]\n  a: 10\n  d: 4\n"  # written keys win over merged ones
        "n:\n  x: &inner {<<: *base, b: 20}\n"
        "later:\n  <<: *inner\n  e: 5\n"  # *inner is flattened as a merge source before it is built
        "dup: {k: 1, k: 2}\n"
    )
    (doc,) = yamlsafe.load_documents(text)
    assert doc.data["m"] == {"a": 10, "b": 2, "c": 3, "d": 4}
    assert doc.data["n"]["x"] == {"a": 1, "b": 20} and doc.data["later"] == {"a": 1, "b": 20, "e": 5}
    assert [(i.path, i.duplicate) for i in doc.issues] == [(("dup", "k"), True)]


def test_fields_of_the_wrong_type_are_schema_findings_and_crash_no_check() -> None:
    # Mutating the good fixtures found these: a list as the APIService's service name (unhashable
    # in the Service lookup), a list as a SealedSecret's template name, a mapping in a Role's
    # apiGroups, a number as a mounted rule file (promtool wrote it as text). Each raised.
    name = "input-wrong-types"
    findings = validate_paths([FIX / name])  # with promtool
    assert {(f.kind, f.path) for f in findings if f.check == "schema"} >= {
        ("APIService", "spec.service.name"),
        ("APIService", "spec.service.namespace"),
        ("ConfigMap", 'data["alerts.rules.yml"]'),
        ("Role", "rules[0].apiGroups[0]"),
        ("Role", "rules[0].verbs[0]"),
        ("SealedSecret", "spec.template.metadata.name"),
    }


# -- a fleet: units are read in the workers that check them ---------------------------------------


def fleet(root: Path, clusters: int = 9) -> Path:
    """A dist/ of ``clusters`` cluster folders (enough for the gate to use every core)."""
    for i in range(clusters):
        write(root / "dist" / "clusters" / f"c{i}", "namespace.yaml", NAMESPACE.replace("demo", f"demo-{i}"))
    return root / "dist"


@pytest.mark.parametrize("parallel_from", [1, 1000])
def test_in_a_fleet_the_first_unreadable_file_in_reading_order_is_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, parallel_from: int
) -> None:
    """Whether the units are read in one process or in several, the error is the one the first
    file that cannot be read gives, as when every file was read before any check ran."""
    from promstack.validate import gate, policy

    monkeypatch.setattr(gate, "PARALLEL_FROM", parallel_from)
    dist = fleet(tmp_path)
    write(dist / "clusters" / "c7", "bad.yaml", "a: [\n")
    write(dist / "clusters" / "c3", "bad.yaml", "b: {\n")

    def overflow(*_: object) -> list[Finding]:  # a check that fails comes after any file that cannot be read
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(policy, "check_policy", overflow)
    error = input_error(capsys, str(dist))
    assert error.startswith(f"{dist / 'clusters' / 'c3' / 'bad.yaml'}:2:1: invalid YAML"), error
    with pytest.raises(InputError) as raised:
        loader.load_units([dist])
    assert str(raised.value) == error


@pytest.mark.parametrize("parallel_from", [1, 1000])
def test_in_a_fleet_a_file_before_a_missing_path_is_read_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, parallel_from: int
) -> None:
    from promstack.validate import gate

    monkeypatch.setattr(gate, "PARALLEL_FROM", parallel_from)
    dist = fleet(tmp_path)
    assert input_error(capsys, str(dist), str(tmp_path / "missing")) == (
        f"{tmp_path / 'missing'}: no such file or folder: check the path"
    )
    write(dist / "clusters" / "c8", "bad.yaml", "a: [\n")
    assert input_error(capsys, str(dist), str(tmp_path / "missing")).startswith(
        f"{dist / 'clusters' / 'c8' / 'bad.yaml'}:2:1: invalid YAML"
    )


@pytest.mark.parametrize("parallel_from", [1, 1000])
def test_in_a_fleet_the_first_unit_whose_check_fails_is_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, parallel_from: int
) -> None:
    from promstack.validate import gate, policy

    monkeypatch.setattr(gate, "PARALLEL_FROM", parallel_from)
    dist = fleet(tmp_path)
    real = policy.check_policy

    def overflow(objects: list[loader.Document]) -> list[Finding]:
        if any(doc.name in ("demo-4", "demo-6") for doc in objects):
            raise RecursionError("maximum recursion depth exceeded")
        return real(objects)

    monkeypatch.setattr(policy, "check_policy", overflow)
    assert input_error(capsys, str(dist)) == (
        f"{dist / 'clusters' / 'c4' / 'namespace.yaml'} (document 1): nested too deeply to check: flatten it"
    )


def test_a_fleet_read_in_workers_gives_what_one_process_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Findings, object count, unit names and flow reports do not depend on how many processes read the units."""
    from promstack.validate import gate

    dist = fleet(tmp_path)
    write(dist / "clusters" / "c5", "extra.yaml", NAMESPACE + "  labels: {a: 1}\n---\n" + NAMESPACE)
    results = []
    for parallel_from in (1, 1000):
        monkeypatch.setattr(gate, "PARALLEL_FROM", parallel_from)
        results.append(run_gate([dist], run_promtool=False, flows=True))
    assert results[0] == results[1]
    assert results[0].objects == 11 and len(results[0].units) == 9
    assert any(f.file.endswith("extra.yaml") for f in results[0].findings)


@pytest.mark.parametrize("text", [
    "a: &x s\nb: *x\nc: !!str 12\nd: !!str\ne: 'q'\nf: \"d\"\ng: |\n  t\n",
    "- &a x\n- *a\n- !!str y\n- 1\n- null\n- 0x1f\n- .inf\n- yes\n- ''\n",
    "base: &b {a: 1, b: x}\nm:\n  <<: *b\n  c: [1, [y, [3]]]\n",
    "&k a: 1\nb: *k\n",
])
def test_string_scalars_read_as_pyyaml_reads_them(text: str) -> None:
    """Strings are taken from their nodes directly (the reader's fast path): the same values as PyYAML's."""
    from promstack.validate import yamlsafe

    [parsed] = yamlsafe.load_documents(text)
    assert parsed.data == yaml.safe_load(text) and parsed.issues == ()


@pytest.mark.parametrize(("text", "message"), [
    ("a: !!str [x]\n", "expected a scalar node, but found sequence"),
    ("a: !!seq x\n", "expected a sequence node, but found scalar"),
    ("a: !!map x\n", "expected a mapping node, but found scalar"),
])
def test_tags_on_the_wrong_node_are_still_refused(text: str, message: str) -> None:
    from promstack.validate import yamlsafe

    with pytest.raises(yaml.YAMLError, match=message):
        yamlsafe.load_documents(text)


@pytest.mark.parametrize("text", [
    "a: " + "[" * 201 + "]" * 201 + "\n",  # no alias: the depth-only scan
    "a: " + "[" * 201 + "]" * 201 + "\nb: &x 1\nc: *x\n",  # aliases: the full scan
])
def test_the_depth_bound_holds_with_and_without_aliases(text: str) -> None:
    from promstack.validate import yamlsafe

    with pytest.raises(yamlsafe.UnsafeYAML, match="nested deeper than 200 levels"):
        yamlsafe.load_documents(text)


def test_plain_scalars_resolve_the_same_each_time() -> None:
    """Resolved tags are remembered per text: a text read again reads the same, in any position."""
    from promstack.validate import yamlsafe

    text = "a: 1\nb: '1'\nc: [1, yes, null, 1.5, 2020-01-01, x]\n1: yes\n"
    first, again = yamlsafe.load_documents(text), yamlsafe.load_documents(text)
    assert first == again
    assert first[0].data == {"a": 1, "b": "1", "c": [1, True, None, 1.5, "2020-01-01", "x"], "1": True}
