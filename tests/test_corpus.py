"""data/corpus (notebook 11's texts) is exactly what tools/make_corpus.py writes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import make_corpus  # noqa: E402


def test_committed_corpus_is_what_the_generator_writes():
    assert make_corpus.differences() == []
    assert make_corpus.main(["--check"]) == 0


def test_corpus_counts():
    files = sorted(make_corpus.CORPUS.glob("*.txt"))
    assert [p.name for p in files] == [f"text_{n:02d}.txt" for n in range(1, 41)]
    sizes = [p.stat().st_size for p in files]
    assert sum(sizes) < 200_000  # well under 1 MB: it lives in the repository
    assert min(sizes) > 300
    texts = [p.read_text(encoding="utf-8") for p in files]
    assert len(set(texts)) == len(texts)  # position != identity: no two files alike
    assert all(t.startswith(f"Text {n:02d}: ") for n, t in enumerate(texts, 1))


def test_generator_is_deterministic_and_depends_on_the_seed():
    assert make_corpus.generate() == make_corpus.generate()
    assert make_corpus.generate(seed=12) != make_corpus.generate()
    assert len(make_corpus.generate(files=3)) == 3


def test_a_stale_corpus_is_detected(tmp_path):
    make_corpus.write(tmp_path)
    assert make_corpus.differences(tmp_path) == []
    (tmp_path / "text_05.txt").write_text("edited by hand")
    (tmp_path / "extra.txt").write_text("not generated")
    (tmp_path / "text_07.txt").unlink()
    assert make_corpus.differences(tmp_path) == ["extra.txt", "text_05.txt", "text_07.txt"]
    make_corpus.write(tmp_path)
    assert make_corpus.differences(tmp_path) == []


@pytest.mark.parametrize("argv", [["--help"]])
def test_cli_help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        make_corpus.main(argv)
    assert exc.value.code == 0
    assert "corpus" in capsys.readouterr().out
