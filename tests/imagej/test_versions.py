"""The versions the ImageJ bridge needs (fm2s.imagej.versions): parsing, floors, messages."""

from __future__ import annotations

from fm2s.imagej import versions


def test_versions_compare_by_their_numbers():
    assert versions.parse("2.100.1") == (2, 100, 1)
    assert versions.parse("21.0.4+7") == (21, 0, 4)
    assert versions.parse("1.8.0_392") == (1, 8, 0)
    assert versions.parse("0.4.2-SNAPSHOT") == (0, 4, 2)
    assert versions.parse("2.100.0") > versions.parse("2.99.9")


def test_a_finding_names_the_component_what_was_found_and_what_is_needed():
    old = versions.check("scijava-common", "2.99.0")
    assert not old.ok
    assert old.message() == "scijava-common: version 2.99.0 found, fm2s needs 2.100.0 or newer"
    missing = versions.check("scripting-python", None)
    assert missing.message() == "scripting-python: not found, fm2s needs 0.4.2 or newer"
    assert versions.check("java", "21").ok and not versions.check("java", "1.8").ok
    assert versions.problems([old, versions.check("pyimagej", "1.8.0")]) == [old.message()]


def test_jar_versions_are_read_from_file_names(tmp_path):
    for name in ("scijava-common-2.99.0.jar", "scijava-common-2.100.1.jar", "scijava-common-x.jar",
                 "scijava-common-plugins-9.0.jar"):
        (tmp_path / name).write_bytes(b"")
    assert versions.jar_version(tmp_path, "scijava-common") == "2.100.1"
    assert versions.jar_version(tmp_path, "scripting-python") is None


def test_this_python_has_what_the_bridge_needs():
    assert all(finding.ok for finding in versions.check_python()), versions.check_python()
