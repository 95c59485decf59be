"""Render one Helm chart with the Helm SDK in a separate process: ``python -m ...helm_worker``.

The SDK runs Helm's Go code inside the calling process, where a runaway template could neither
be stopped nor kept from taking the gate down with it; in a worker process it gets the same
wall-clock and output limits as any renderer. Reads a JSON request on stdin
(``chart``, ``values``, ``release``, ``namespace``) and writes the manifests as ``helm template``
does (``---`` and ``# Source:`` before each template); an error is one line on stderr, exit 3.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    request = json.loads(sys.stdin.read())
    try:
        import helm_python
    except ImportError:
        sys.stderr.write("the Helm SDK (helm-python-sdk) is not installed\n")
        return 4
    try:
        with helm_python.Chart.load(request["chart"]) as chart:
            manifests = chart.render(request.get("values") or {}, name=request.get("release") or "release",
                                     namespace=request.get("namespace") or "default", is_install=True)
            crds = chart.crds
    except helm_python.HelmError as exc:
        sys.stderr.write(" ".join(str(exc).split())[:2000] + "\n")
        return 3
    out = sys.stdout
    for crd in crds:
        out.write(f"---\n# Source: {crd.get('name') or crd.get('filename')}\n{crd.get('data', '')}\n")
    for name in sorted(manifests):
        text = manifests[name]
        if name.endswith("NOTES.txt") or not text.strip():
            continue
        out.write(f"---\n# Source: {name}\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
