"""The shared corpora: recall and decoys on a generated synthetic corpus, and the reviewed real one."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from gatekeeper.model import Severity
from tests.conftest import shared_dir
from tests.secrets.fakes import scan

# Every error the secrets check reports on ../shared/corpus/real, reviewed one by one: each object
# holds a literal credential (demo passwords, Ceph/Azure keys, CHAP secrets, an access key that the
# manifest tells users to replace in place). Anything new here must be reviewed before it is added.
REVIEWED_REAL = {
    ("kubernetes__examples/_archived/javaee/mysql-pod.yaml", 20, "secret-env-literal"),
    ("kubernetes__examples/_archived/persistent-volume-provisioning/quobyte/quobyte-admin-secret.yaml", 7,
     "secret-k8s-secret"),
    ("kubernetes__examples/_archived/persistent-volume-provisioning/rbd/ceph-secret-admin.yaml", 8,
     "secret-k8s-secret"),
    ("kubernetes__examples/_archived/persistent-volume-provisioning/rbd/ceph-secret-user.yaml", 8,
     "secret-k8s-secret"),
    ("kubernetes__examples/_archived/storage/minio/minio-distributed-statefulset.yaml", 24, "secret-env-literal"),
    ("kubernetes__examples/_archived/storage/minio/minio-standalone-deployment.yaml", 36, "secret-env-literal"),
    ("kubernetes__examples/_archived/storage/mysql-galera/pxc-node1.yaml", 57, "secret-env-literal"),
    ("kubernetes__examples/_archived/storage/mysql-galera/pxc-node2.yaml", 58, "secret-env-literal"),
    ("kubernetes__examples/_archived/storage/mysql-galera/pxc-node3.yaml", 58, "secret-env-literal"),
    ("kubernetes__examples/_archived/sysdig-cloud/sysdig-daemonset.yaml", 47, "secret-env-literal"),
    ("kubernetes__examples/_archived/sysdig-cloud/sysdig-rc.yaml", 45, "secret-env-literal"),
    ("kubernetes__examples/_archived/volumes/azure_file/secret/azure-secret.yaml", 8, "secret-k8s-secret"),
    ("kubernetes__examples/_archived/volumes/cephfs/secret/ceph-secret.yaml", 6, "secret-k8s-secret"),
    ("kubernetes__examples/_archived/volumes/iscsi/chap-secret.yaml", 9, "secret-k8s-secret"),
    ("kubernetes__examples/_archived/volumes/iscsi/chap-secret.yaml", 11, "secret-k8s-secret"),
    ("kubernetes__examples/_archived/volumes/iscsi/chap-secret.yaml", 15, "secret-k8s-secret"),
    ("kubernetes__examples/_archived/volumes/rbd/secret/ceph-secret.yaml", 7, "secret-k8s-secret"),
    ("kubernetes__examples/_archived/volumes/scaleio/secret.yaml", 8, "secret-k8s-secret"),
    ("kubernetes__examples/_archived/volumes/storageos/storageos-secret.yaml", 9, "secret-k8s-secret"),
    ("prometheus-operator__kube-prometheus/examples/basic-auth/secrets.yaml", 6, "secret-k8s-secret"),
}


def test_synthetic_corpus_recall_and_decoys(tmp_path: Path) -> None:
    generator = shared_dir("bench", "gen_corpus.py")
    out = tmp_path / "corpus"
    subprocess.run([sys.executable, str(generator), "--count", "800", "--seed", "7", "--out", str(out)],
                   check=True, capture_output=True, timeout=120)
    labels = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines() if line]
    report = scan(out)
    assert not report.errors
    by_doc: dict[tuple[str, int], list[tuple[int, Severity]]] = defaultdict(list)
    for f in report.findings:
        if f.check == "secrets" and f.resource is not None:
            by_doc[(f.path, f.resource.document)].append((f.line, f.severity))
    secret = [lab for lab in labels if lab["category"] == "secret"]
    decoys = [lab for lab in labels if lab["category"] == "decoy"]
    assert secret and decoys
    missed = [lab for lab in secret if not by_doc[(lab["path"], lab["doc_index"])]]
    assert missed == []
    # the evidence line is reported (the generator labels one env-password case at the document start)
    off_line = [lab for lab in secret if lab["line"] > 1
                and lab["line"] not in {line for line, _ in by_doc[(lab["path"], lab["doc_index"])]}]
    assert off_line == []
    flagged = [lab for lab in decoys
               if any(sev >= Severity.WARNING for _, sev in by_doc[(lab["path"], lab["doc_index"])])]
    assert flagged == []


def test_real_corpus_errors_are_the_reviewed_literal_credentials() -> None:
    report = scan(shared_dir("corpus", "real"))
    errors = {(f.path, f.line, f.rule) for f in report.findings
              if f.check == "secrets" and f.severity is Severity.ERROR}
    assert errors == REVIEWED_REAL
