"""Offline NLTK provisioning: copied WordNet, lexnames, stopwords, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench.errors import WorkbenchError
from workbench.resources import nltk_data

needs_debian_wordnet = pytest.mark.skipif(not (nltk_data.WORDNET_SOURCE / "data.noun").is_file(),
                                          reason="apt-get install wordnet-base wordnet-sense-index")


def test_lexnames_has_the_45_standard_files():
    lines = nltk_data.lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3"
    assert lines[3] == "03\tnoun.Tops\t1"
    assert lines[44] == "44\tadj.ppl\t3"


@needs_debian_wordnet
def test_install_copies_files_and_is_idempotent(tmp_path):
    root = nltk_data.install(tmp_path)
    wordnet = tmp_path / "corpora" / "wordnet"
    for name in (*nltk_data.WORDNET_FILES, "lexnames"):
        assert (wordnet / name).is_file() and not (wordnet / name).is_symlink(), name
    assert (wordnet / "data.noun").stat().st_size == (nltk_data.WORDNET_SOURCE / "data.noun").stat().st_size
    words = (tmp_path / "corpora" / "stopwords" / "english").read_text().split()
    assert {"i", "the", "not"} <= set(words) and "order" not in words
    mtime = (wordnet / "data.noun").stat().st_mtime_ns
    assert nltk_data.install(root) == root
    assert (wordnet / "data.noun").stat().st_mtime_ns == mtime  # nothing re-copied
    assert nltk_data.missing_resources(root) == []


def test_missing_wordnet_source_names_resource_and_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(nltk_data, "_download", lambda resource, root: False)  # no NLTK server here
    with pytest.raises(WorkbenchError) as err:
        nltk_data.install(tmp_path / "data", source=tmp_path / "no-wordnet")
    assert "wordnet" in str(err.value)
    assert "apt-get install wordnet-base wordnet-sense-index" in err.value.hint
    assert "python -m workbench.resources.nltk_data --install" in err.value.hint


def test_ensure_without_install_reports_each_missing_resource(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_NLTK_DATA", str(tmp_path))
    with pytest.raises(WorkbenchError, match="wordnet, stopwords"):
        nltk_data.ensure_nltk_data(auto_install=False)


@needs_debian_wordnet
def test_ensure_points_nltk_at_the_folder(monkeypatch):
    monkeypatch.setenv("NLTK_DATA", "")
    root = nltk_data.ensure_nltk_data()
    assert os.environ["NLTK_DATA"].split(os.pathsep)[0] == str(root)
    import nltk

    assert str(root) in nltk.data.path
    assert Path(nltk.data.find("corpora/stopwords/english")).is_file()
    from nltk.corpus import stopwords

    assert "themselves" in stopwords.words("english")
