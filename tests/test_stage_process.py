"""Stages run one after another each in a fresh process, their logs and errors handled here."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import pytest

from pipeline.config import load_config
from pipeline.paths import ProvincePaths
from pipeline.stage import run_pipeline, run_stage, run_stage_in_process

if TYPE_CHECKING:
    from tests.conftest import Project


def test_analyze_runs_each_stage_but_the_last_in_its_own_process_logged_here(
    town_project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config("town", root=town_project.root)
    paths = ProvincePaths("town", town_project.root)
    with caplog.at_level(logging.INFO):
        results = run_pipeline("analyze", config, paths, force=True)
    done = {r.getMessage().split(":")[0]: r.process for r in caplog.records
            if r.getMessage().split(": ", 1)[-1].startswith("done (")}  # fmt: skip
    assert set(done) == set(results)
    last = list(results)[-1]
    assert done[last] == os.getpid()  # nothing ran after it: no process of its own
    others = {name: pid for name, pid in done.items() if name != last}
    assert others
    assert os.getpid() not in others.values()
    assert len(set(others.values())) == len(others)  # one fresh process per stage
    manifest = paths.manifest.read_text("utf-8")
    for entry in results.values():
        assert entry["key"] in manifest  # the entries returned are those the stages wrote
        assert entry["summary"]


def test_a_stage_error_in_its_own_process_is_raised_here_as_it_is(project: Project) -> None:
    project.province("town", {})
    config = load_config("town", root=project.root)
    paths = ProvincePaths("town", project.root)
    with pytest.raises(Exception) as here:
        run_stage("network", config, paths)
    with pytest.raises(type(here.value)) as there:
        run_stage_in_process("network", config, paths)
    assert str(there.value) == str(here.value)
