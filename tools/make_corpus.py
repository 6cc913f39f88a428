"""Write the text corpus that notebook 11 reads: ``data/corpus/*.txt``.

The texts are made up, deterministically, from a seed and the small word list below (written
for the course, so there is no licence to worry about): the same script writes the same bytes
on every machine and every Python (it uses only ``random.Random(seed).random()``, whose
sequence Python keeps stable). ``tests/test_corpus.py`` checks that the committed files are
exactly what this script writes.

    python tools/make_corpus.py           # (re)write data/corpus
    python tools/make_corpus.py --check   # exit 1 if data/corpus differs
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus"
SEED = 11
FILES = 40
WORDS = """
a about after all an and another answer as at await before between block buffer but by
cache call can chef coroutine course data disk does each event every executor fast file
files first for from future gather has in into is it its kitchen late latency line lines
list loop many more network next no not of on once one open order oven page pool queue
read reader reads ready request result return run runs server shared slow so some soon
storage task tasks than that the then thread threads time to too turn two until wait
waits when while with work worker workers write you
""".split()


def _pick(rng: random.Random, items: list[str]) -> str:
    return items[int(rng.random() * len(items))]


def _sentence(rng: random.Random) -> str:
    words = [_pick(rng, WORDS) for _ in range(4 + int(rng.random() * 12))]
    return " ".join(words).capitalize() + "."


def _text(rng: random.Random, number: int) -> str:
    """One file: a title line, then 3 to 14 paragraphs of 3 to 7 sentences."""
    title = f"Text {number:02d}: {_pick(rng, WORDS)} and {_pick(rng, WORDS)}"
    paragraphs = []
    for _ in range(3 + int(rng.random() * 12)):
        sentences = [_sentence(rng) for _ in range(3 + int(rng.random() * 5))]
        paragraphs.append(" ".join(sentences))
    return title + "\n\n" + "\n\n".join(paragraphs) + "\n"


def generate(seed: int = SEED, files: int = FILES) -> dict[str, str]:
    """The corpus as ``{file name: text}``, the same for the same ``seed`` and ``files``."""
    rng = random.Random(seed)
    return {f"text_{n:02d}.txt": _text(rng, n) for n in range(1, files + 1)}


def differences(folder: Path = CORPUS) -> list[str]:
    """The file names in ``folder`` that are missing, extra or not what :func:`generate`
    writes (an empty list: the folder is up to date)."""
    wanted = generate()
    present = {p.name for p in folder.glob("*.txt")} if folder.is_dir() else set()
    wrong = [name for name, text in wanted.items()
             if name not in present or (folder / name).read_bytes() != text.encode()]
    return sorted(wrong + sorted(present - wanted.keys()))


def write(folder: Path = CORPUS) -> None:
    """(Re)write the corpus into ``folder``, removing stray ``.txt`` files."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = generate()
    for stray in folder.glob("*.txt"):
        if stray.name not in wanted:
            stray.unlink()
    for name, text in wanted.items():
        (folder / name).write_bytes(text.encode())  # bytes: "\n" on every OS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        wrong = differences()
        if wrong:
            print("data/corpus is stale:", ", ".join(wrong), file=sys.stderr)
            return 1
        return 0
    write()
    total = sum(p.stat().st_size for p in CORPUS.glob("*.txt"))
    print(f"wrote {FILES} files, {total:,} bytes, to {CORPUS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
