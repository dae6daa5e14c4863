"""Augmentation speed per family, against textattack's own augmenters in the same run.

Inputs: the user turns of ``sample_data/support.jsonl`` (or ``--data``).
Typos, synonyms, EDA and structure run over all of them (repeated to at
least ``--sentences``); textattack's ``WordNetAugmenter`` and
``CharSwapAugmenter`` run sentence by sentence on a subsample
(``--textattack-sentences``), since they are slow. WordNet loading is timed
separately and excluded from every rate (both sides use the same NLTK
reader). The meaning filter is not part of these figures.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HELP = "sentences/s of each augmenter family vs textattack's WordNetAugmenter and CharSwapAugmenter"
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "support.jsonl"


def add_arguments(parser) -> None:
    parser.add_argument("--data", default=str(SAMPLE), help="JSONL chat file whose user turns are the inputs")
    parser.add_argument("--sentences", type=int, default=2000, help="inputs for the fast families (inputs repeat)")
    parser.add_argument("--textattack-sentences", type=int, default=30, help="inputs for textattack's loops")
    parser.add_argument("--seed", type=int, default=0)


def user_turns(path: str | Path) -> list[str]:
    """User turns of a JSONL chat file; unreadable lines are skipped."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line, strict=False)
        except ValueError:
            continue
        out += [m["content"] for m in row.get("messages") or []
                if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str)]
    return out


def rate(fn: Callable[[list[str], list[str]], list[str]], texts: list[str], seed: int) -> float:
    """Sentences per second of ``fn`` over ``texts`` (one warm-up call first)."""
    seeds = [f"{seed}:{i}" for i in range(len(texts))]
    fn(texts[:1], seeds[:1])
    start = time.perf_counter()
    fn(texts, seeds)
    return round(len(texts) / (time.perf_counter() - start), 1)


def run(args) -> dict[str, Any]:
    from workbench.plugins.augmenters.base import rng
    from workbench.plugins.augmenters.eda import eda
    from workbench.plugins.augmenters.structure import restructure
    from workbench.plugins.augmenters.synonyms import Lexicon, run_textattack
    from workbench.plugins.augmenters.typos import TypoOptions, add_typos
    from workbench.resources.nltk_data import ensure_nltk_data

    base = user_turns(args.data)
    if not base:
        raise SystemExit(f"no user turns in {args.data}")
    texts = (base * (args.sentences // len(base) + 1))[: args.sentences]
    small = base[: args.textattack_sentences]
    typo_options = TypoOptions()
    t0 = time.perf_counter()
    lexicon = Lexicon.load()
    wordnet_load = time.perf_counter() - t0

    figures: dict[str, Any] = {"inputs": len(texts), "distinct_inputs": len(base), "textattack_inputs": len(small),
                               "wordnet_load_seconds": round(wordnet_load, 2)}
    figures["typo_sentences_per_second"] = rate(
        lambda ts, ss: [add_typos(t, rng(s), typo_options) for t, s in zip(ts, ss)], texts, args.seed)
    figures["synonym_sentences_per_second"] = rate(
        lambda ts, ss: [lexicon.replace(t, rng(s), 0.2) for t, s in zip(ts, ss)], texts, args.seed)
    figures["eda_sentences_per_second"] = rate(
        lambda ts, ss: [eda(t, rng(s), ["insert", "swap", "delete"], 0.1, lexicon) for t, s in zip(ts, ss)],
        texts, args.seed)
    figures["structure_sentences_per_second"] = rate(
        lambda ts, ss: [restructure(t, rng(s)) for t, s in zip(ts, ss)], texts, args.seed)

    ensure_nltk_data()
    from textattack.augmentation import CharSwapAugmenter, WordNetAugmenter

    wordnet_aug = WordNetAugmenter(pct_words_to_swap=0.2, transformations_per_example=1)
    charswap_aug = CharSwapAugmenter(pct_words_to_swap=0.1, transformations_per_example=1)
    figures["textattack_wordnet_sentences_per_second"] = rate(
        lambda ts, ss: run_textattack(wordnet_aug, ts, ss), small, args.seed)
    figures["textattack_charswap_sentences_per_second"] = rate(
        lambda ts, ss: run_textattack(charswap_aug, ts, ss), small, args.seed)
    figures["synonym_speedup_vs_textattack"] = round(
        figures["synonym_sentences_per_second"] / figures["textattack_wordnet_sentences_per_second"], 1)
    figures["typo_speedup_vs_textattack_charswap"] = round(
        figures["typo_sentences_per_second"] / figures["textattack_charswap_sentences_per_second"], 1)
    figures["targets_met"] = {"typo_5000_per_second": figures["typo_sentences_per_second"] >= 5000,
                              "synonym_10x_textattack": figures["synonym_speedup_vs_textattack"] >= 10}
    return figures
