"""Build the data of the general de<->en models from the bundled corpora (run once, seeded).

Writes, under data/:
  tatoeba/train.{de,en}.gz, tatoeba/dev.{de,en}.gz   a fixed 2,000-pair development slice of
      Tatoeba; every training pair that shares its German or its English side with a dev pair
      is removed from training, so that dev sentences are never seen in training.
  newstest/newstest2008-2012.{de,en}.gz               news training data, newstest2013 kept as dev.
and, under runs/general-data/ (not committed; rebuilt by this script):
  train.{de,en}.gz   Multi30k train x MULTI30K_COPIES + Tatoeba train + newstest 2008-2012
  dev.{de,en}.gz     Multi30k val + Tatoeba dev + newstest2013, for checkpoint selection
"""

from __future__ import annotations

import gzip
import random
import shutil
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATA = Path(__file__).resolve().parents[1] / "data"
OUT = Path(__file__).resolve().parents[1] / "runs" / "general-data"
DEV_PAIRS = 2000
SEED = 20261125
MULTI30K_COPIES = 3
LANGS = ("de", "en")


def read(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8", newline="\n") as f:
        return [line.rstrip("\n").rstrip("\r") for line in f]


def write(path: Path, lines: list[str]) -> None:
    """Gzip with a zero timestamp, so that a re-run writes the same bytes and leaves git clean."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(line + "\n" for line in lines).encode("utf-8")
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write(text)


def split_tatoeba() -> None:
    de, en = (read(SHARED / "tatoeba" / f"tatoeba2018.{lang}.gz") for lang in LANGS)
    order = list(range(len(de)))
    random.Random(SEED).shuffle(order)
    dev = sorted(order[:DEV_PAIRS])
    dev_de, dev_en = {de[i] for i in dev}, {en[i] for i in dev}
    train = [i for i in order[DEV_PAIRS:] if de[i] not in dev_de and en[i] not in dev_en]
    train.sort()
    for lang, side in zip(LANGS, (de, en)):
        write(DATA / "tatoeba" / f"dev.{lang}.gz", [side[i] for i in dev])
        write(DATA / "tatoeba" / f"train.{lang}.gz", [side[i] for i in train])
    shutil.copy(SHARED / "tatoeba" / "README.md", DATA / "tatoeba" / "README.md")
    print(f"tatoeba: {len(de)} pairs -> dev {len(dev)}, train {len(train)}")


def copy_newstest() -> None:
    for lang in LANGS:
        lines: list[str] = []
        for year in range(2008, 2013):
            lines += read(SHARED / "newstest" / f"newstest{year}.{lang}.gz")
        write(DATA / "newstest" / f"newstest2008-2012.{lang}.gz", lines)
        shutil.copy(SHARED / "newstest" / f"newstest2013.{lang}.gz", DATA / "newstest")
    shutil.copy(SHARED / "newstest" / "README.md", DATA / "newstest" / "README.md")


def mix() -> None:
    for lang in LANGS:
        m30k = read(DATA / "multi30k" / f"train.{lang}.gz")
        train = m30k * MULTI30K_COPIES
        train += read(DATA / "tatoeba" / f"train.{lang}.gz")
        train += read(DATA / "newstest" / f"newstest2008-2012.{lang}.gz")
        write(OUT / f"train.{lang}.gz", train)
        dev = read(DATA / "multi30k" / f"val.{lang}.gz") + read(DATA / "tatoeba" / f"dev.{lang}.gz")
        dev += read(DATA / "newstest" / f"newstest2013.{lang}.gz")
        write(OUT / f"dev.{lang}.gz", dev)
    print(f"mix: {len(train)} training pairs, {len(dev)} dev pairs in {OUT}")


if __name__ == "__main__":
    split_tatoeba()
    copy_newstest()
    mix()
