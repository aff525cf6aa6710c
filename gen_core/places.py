"""What lives in a runs root besides runs, and where the runs root is.

    <root>/<run>/              a run folder (gen_core.run.layout)
    <root>/_jobs/              the job queue's settings files and worker logs
    <root>/_uploads/           uploaded image zips, named by their content
    <root>/_feature_nets/      small classifiers trained per dataset for the metrics
    <root>/_decks/<name>.json  lesson decks: saved views a lecturer steps through (gen_core.serve.decks)
    <root>/_quizzes/           the room's "which is real?" rounds and their answers (gen_core.serve.quiz)
    <root>/students/<name>/    a student's own runs root, in classroom mode
    <root>/.import-*           a run zip being unpacked

A run's name can never be one of these (gen_core.run.collection.safe_run_name).
"""

from __future__ import annotations

import os
from pathlib import Path

JOBS_DIR = "_jobs"
UPLOADS_DIR = "_uploads"
FEATURE_NETS_DIR = "_feature_nets"
DECKS_DIR = "_decks"
QUIZZES_DIR = "_quizzes"
STUDENTS_DIR = "students"
IMPORT_STAGING_PREFIX = ".import-"


def default_root() -> Path:
    """Where runs live: $GEN_CORE_CHECKPOINTS, else ./checkpoints."""
    return Path(os.environ.get("GEN_CORE_CHECKPOINTS", "checkpoints"))

