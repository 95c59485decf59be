"""The benchmarks' corpus: a given directory, or the shared synthetic GitOps repository generated fresh."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

GEN = Path(__file__).resolve().parents[2] / "shared" / "bench" / "gen_corpus.py"


def corpus(count: int, directory: Path | None, name: str = "bench") -> Path:
    """``directory`` when given, else ``gen_corpus.py --count COUNT --seed 1`` in a temporary directory."""
    if directory is not None:
        return directory
    out = Path(tempfile.mkdtemp(prefix=f"gk-{name}-")) / f"c{count}"
    subprocess.run([sys.executable, str(GEN), "--count", str(count), "--seed", "1", "--out", str(out)],
                   check=True, capture_output=True)
    return out
