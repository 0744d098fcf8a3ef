"""`maebench doctor` on the installed stack: every probe passes here (the setup script's install), and the
duplicate-install check tells a real second copy from the editable install's own build record."""
from __future__ import annotations

from pathlib import Path

from tools.cli import main as cli
from tools.doctor import duplicate_installs

REPO = Path(__file__).resolve().parents[2]


def test_doctor_passes_on_the_setup_scripts_install_run_from_the_checkout(monkeypatch, capsys):
    # as `python -m tools.cli doctor` from the repo root: the checkout, with the maebench.egg-info that
    # `pip install -e .` writes there, is on sys.path (a fresh install once reported it as a duplicate)
    monkeypatch.syspath_prepend(str(REPO))
    monkeypatch.chdir(REPO)
    assert cli(["doctor", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "[ok] no duplicate installs: none" in out and "[FAIL]" not in out
    assert "doctor: all checks passed" in out


def test_a_second_copy_of_a_package_is_reported(monkeypatch, tmp_path):
    copy = tmp_path / "maebench-0.0.1.dist-info"  # what a broken uninstall leaves behind
    copy.mkdir()
    (copy / "METADATA").write_text("Metadata-Version: 2.1\nName: maebench\nVersion: 0.0.1\n")
    assert "maebench" not in duplicate_installs()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert duplicate_installs() == ["maebench"]
