"""The engine's sentence model: load time in a fresh process, and what it adds to an install.

Aims (issue 10): model load <= 1 s; wheel growth <= 25 MB. Load time is measured in a new interpreter
(best of three), from `import` to a classifier ready for the default taxonomy. Install growth adds the
installed files of the model package and of the dependencies it brought that nothing else here needs.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

from rich.console import Console
from rich.table import Table

_LOAD = (
    "import time; t=time.perf_counter();"
    "from cem_engine.config import default_config; from cem_engine.classify import classifier_for;"
    "from cem_engine.embedding import load_model; m=load_model(); c=classifier_for(default_config());"
    "print(time.perf_counter()-t, m is not None)"
)
# What `pip install wordllama` added to this project's environment (nothing else in the product needs them)
MODEL_DISTRIBUTIONS = ("wordllama", "numpy", "tokenizers", "safetensors", "toml", "huggingface-hub", "hf-xet",
                       "pydantic", "pydantic-core", "annotated-types", "typing-inspection", "fsspec", "filelock",
                       "tqdm", "httpx2", "httpcore2", "h11", "anyio", "truststore")


def load_seconds() -> tuple[float, bool]:
    best, loaded = float("inf"), False
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", _LOAD], capture_output=True, text=True, check=True, timeout=120)
        seconds, ok = out.stdout.split()
        best, loaded = min(best, float(seconds)), ok == "True"
    return best, loaded


def installed_mb(name: str) -> float:
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return 0.0
    total = 0
    for file in dist.files or ():
        path = file.locate()
        if path.exists():
            total += path.stat().st_size
    return total / 1e6


def main() -> None:
    seconds, loaded = load_seconds()
    console = Console(width=140)
    table = Table(title="Sentence model - aims: load <= 1 s, install growth <= 25 MB")
    for column in ("measure", "value", "note"):
        table.add_column(column)
    table.add_row("import engine + load model + embed the default taxonomy", f"{seconds:.2f} s",
                  "fresh interpreter, best of 3" + ("" if loaded else "; MODEL NOT INSTALLED (fallback)"))
    total = 0.0
    for name in MODEL_DISTRIBUTIONS:
        size = installed_mb(name)
        total += size
        table.add_row(f"installed: {name}", f"{size:.1f} MB", "")
    table.add_row("installed total", f"{total:.1f} MB", "unpacked; wheels are smaller (wordllama wheel 19.2 MB)")
    console.print(table)


if __name__ == "__main__":
    main()
