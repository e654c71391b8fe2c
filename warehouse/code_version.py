"""The code version the audit trail and the dataset registry record: the checkout's commit."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# git finds the checkout from any folder inside it: this package's own.
CHECKOUT_FOLDER = Path(__file__).resolve().parent


def git_commit() -> str:
    """The checkout's commit, marked -dirty when it has uncommitted changes, or 'unknown'."""
    read_only = dict(os.environ, GIT_OPTIONAL_LOCKS="0")  # git status must not touch .git
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=CHECKOUT_FOLDER,
            env=read_only,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=CHECKOUT_FOLDER,
            env=read_only,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")
