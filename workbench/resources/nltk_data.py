"""Offline NLTK data: WordNet from Debian's files and a shipped stopword list.

NLTK's downloader cannot reach its server here, yet ``import textattack``
needs the ``stopwords`` corpus and synonym augmentation needs ``wordnet``.
This module provisions both into one folder and points NLTK at it:

- ``corpora/wordnet/``: WordNet 3.0 *copied* (NLTK's path guard refuses
  symlinks that leave the data root) from ``/usr/share/wordnet`` (Debian
  packages ``wordnet-base`` and ``wordnet-sense-index``), plus the
  ``lexnames`` file NLTK expects and Debian does not ship;
- ``corpora/stopwords/english``: ``workbench/resources/stopwords_english.txt``.

Where the internet is reachable and Debian's files are absent, ``--install``
falls back to ``nltk.download``. Not provisioned (and not needed by Workbench):
the perceptron tagger, ``universal_tagset``, ``omw-1.4`` and ``punkt``;
textattack's WordNet swap asks ``nltk.download("omw-1.4")`` and merely logs a
failure offline, and Workbench's own synonym augmenter tags parts of speech
from WordNet's index instead of the perceptron tagger.

Every user of NLTK or textattack calls :func:`ensure_nltk_data` first.
Command line: ``python -m workbench.resources.nltk_data --install`` (or ``--check``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from workbench import resources
from workbench.errors import WorkbenchError

WORDNET_SOURCE = Path("/usr/share/wordnet")
STOPWORDS_FILE = resources.FOLDER / "stopwords_english.txt"
INSTALL_HINT = ("apt-get install wordnet-base wordnet-sense-index, "
                "then: python -m workbench.resources.nltk_data --install")

#: WordNet files NLTK's reader opens (index.sense/cntlist.rev for sense keys and counts)
WORDNET_FILES = tuple(
    [f"{kind}.{pos}" for kind in ("index", "data") for pos in ("noun", "verb", "adj", "adv")]
    + [f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv")]
    + ["index.sense", "cntlist.rev"]
)

#: the 45 standard lexicographer file names (number, name, syntactic category)
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_LEX_CATEGORY = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}

#: resource name -> file that proves it is installed (relative to the data folder)
RESOURCES = {
    "wordnet": "corpora/wordnet/lexnames",
    "stopwords": "corpora/stopwords/english",
}


def data_dir() -> Path:
    """The project's NLTK data folder.

    ``WORKBENCH_NLTK_DATA`` overrides; inside a virtualenv it is
    ``<venv>/nltk_data`` (on NLTK's default search path, so even code that
    forgets :func:`ensure_nltk_data` finds it); otherwise the user cache.
    """
    override = os.environ.get("WORKBENCH_NLTK_DATA")
    if override:
        return Path(override)
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix) / "nltk_data"
    from workbench.lm.embedded import cache_dir

    return cache_dir() / "nltk_data"


def lexnames_text() -> str:
    lines = [f"{i:02d}\t{name}\t{_LEX_CATEGORY[name.split('.')[0]]}" for i, name in enumerate(LEXNAMES)]
    return "\n".join(lines) + "\n"


def missing_resources(root: Path | None = None) -> list[str]:
    root = root or data_dir()
    return [name for name, marker in RESOURCES.items() if not (root / marker).is_file()]


def _install_wordnet(root: Path, source: Path) -> None:
    target = root / "corpora" / "wordnet"
    absent = [f for f in WORDNET_FILES if not (source / f).is_file()]
    if absent:
        if _download("wordnet", root):
            return
        raise WorkbenchError(f"NLTK resource 'wordnet' is missing: {source} lacks {', '.join(absent)}",
                             hint=INSTALL_HINT)
    tmp = target.with_name(f"wordnet.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in WORDNET_FILES:
        shutil.copyfile(source / name, tmp / name)  # copies, never links (NLTK's path guard)
    (tmp / "lexnames").write_text(lexnames_text(), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def _install_stopwords(root: Path) -> None:
    target = root / "corpora" / "stopwords"
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f"english.tmp{os.getpid()}"
    shutil.copyfile(STOPWORDS_FILE, tmp)
    os.replace(tmp, target / "english")


def _download(resource: str, root: Path) -> bool:
    """Try ``nltk.download`` (works only where NLTK's server is reachable)."""
    import nltk

    try:
        return bool(nltk.download(resource, download_dir=str(root), quiet=True, raise_on_error=True))
    except Exception:
        return False


def install(root: Path | None = None, source: Path = WORDNET_SOURCE, force: bool = False) -> Path:
    """Provision every resource in ``RESOURCES`` (idempotent); return the folder."""
    root = root or data_dir()
    missing = set(RESOURCES) if force else set(missing_resources(root))
    if "wordnet" in missing:
        _install_wordnet(root, source)
    if "stopwords" in missing:
        _install_stopwords(root)
    return root


def ensure_nltk_data(auto_install: bool = True) -> Path:
    """Point NLTK at the project's data folder, provisioning it if needed.

    Call before importing nltk.corpus or textattack. Raises WorkbenchError
    naming the missing resource and how to install it.
    """
    root = data_dir()
    missing = missing_resources(root)
    if missing and auto_install:
        try:
            install(root)
        except WorkbenchError:
            pass  # reported below, per resource
        missing = missing_resources(root)
    if missing:
        raise WorkbenchError(f"NLTK resource(s) missing: {', '.join(missing)} (looked in {root})",
                             hint=INSTALL_HINT)
    paths = os.environ.get("NLTK_DATA", "").split(os.pathsep)
    if str(root) not in paths:
        os.environ["NLTK_DATA"] = os.pathsep.join([str(root), *filter(None, paths)])
    if "nltk" in sys.modules:  # already imported: its search path was read at import
        import nltk

        if str(root) not in nltk.data.path:
            nltk.data.path.insert(0, str(root))
    return root


def check() -> dict[str, str]:
    """Load each resource through NLTK itself; resource -> short proof."""
    ensure_nltk_data(auto_install=False)
    from nltk.corpus import stopwords, wordnet

    return {
        "wordnet": f"version {wordnet.get_version()}, 'order' has {len(wordnet.synsets('order'))} synsets",
        "stopwords": f"{len(stopwords.words('english'))} English stopwords",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.resources.nltk_data", description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="provision the NLTK data folder (idempotent)")
    parser.add_argument("--force", action="store_true", help="re-copy everything even if present")
    parser.add_argument("--check", action="store_true", help="load every resource through NLTK")
    args = parser.parse_args(argv)
    try:
        if args.install or args.force:
            root = install(force=args.force)
            print(f"nltk_data: {root} ({', '.join(RESOURCES)})")
        if args.check or not (args.install or args.force):
            for name, proof in check().items():
                print(f"{name}: {proof}")
    except WorkbenchError as exc:
        print(f"error: {exc}\nhint: {exc.hint}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
