"""``--sign`` uses git's own signing configuration; ``--require-signed`` audits it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.sync.gitrepo import BRANCH, commit, configmap, git, init, sync

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")


def test_signed_sync_commit_verifies_and_unsigned_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "signing_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gate", "-f", str(key)], check=True)
    signers = tmp_path / "allowed_signers"
    signers.write_text("dev@example.com " + key.with_suffix(".pub").read_text())
    repo = init(tmp_path / "src")
    for name, value in (("gpg.format", "ssh"), ("user.signingkey", str(key)),
                        ("gpg.ssh.allowedSignersFile", str(signers))):
        git(repo, "config", name, value)
    commit(repo, {"env/app.yaml": configmap("app", "one")}, "first")
    code, out = sync(repo, "--path", "env", "--sign")
    assert code == 0, out
    git(repo, "verify-commit", BRANCH)
    assert sync(repo, "--verify-branch", "--require-signed")[0] == 0
    commit(repo, {"env/app.yaml": configmap("app", "two")}, "second")
    assert sync(repo, "--path", "env")[0] == 0  # not signed this time
    code, out = sync(repo, "--verify-branch", "--require-signed")
    assert code == 1 and "no good signature" in out and "1 of 2 commit(s)" in out
