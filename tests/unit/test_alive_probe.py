"""The liveness probe's verdicts, on a file whose age the test sets."""

import os

from housekeeping import alive


def test_a_fresh_file_is_alive(tmp_path):
    path = tmp_path / "alive"
    path.touch()
    assert alive.check(str(path), max_age=90) is None
    assert alive.main(["--file", str(path)]) == 0


def test_a_stale_file_is_not(tmp_path, capsys):
    path = tmp_path / "alive"
    path.touch()
    old = path.stat().st_mtime - 120
    os.utime(path, (old, old))
    assert "last touched 120 s ago" in alive.check(str(path), max_age=90)
    assert alive.main(["--file", str(path), "--max-age", "90"]) == 1
    assert "not alive" in capsys.readouterr().err


def test_no_file_means_not_ready(tmp_path):
    assert "does not exist" in alive.check(str(tmp_path / "missing"), max_age=90)
