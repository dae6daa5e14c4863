"""The facts check: extraction and normalisation on hand-written cases, verdict rules, the metric."""

from __future__ import annotations

import json

import polars as pl
import pytest

from workbench.errors import WorkbenchError
from workbench.plugins.metrics.fact_extract import Fact, FactExtractor, Rule
from workbench.plugins.metrics.facts import Facts, judge

PROMPT = "Hi, where is my order NW-44688? It was the Falcon Binoculars."

#: text -> the facts extracted, as "kind: value" (order of appearance)
CASES = [
    # money and currencies
    ("The limit is 10,000 euros.", ["money: EUR 10000"]),
    ("The limit is €10,000.", ["money: EUR 10000"]),
    ("The limit is EUR 10000.", ["money: EUR 10000"]),
    ("The limit is ten thousand euros.", ["money: EUR 10000"]),
    ("You were charged $154.35 twice.", ["money: USD 154.35"]),
    ("It costs 12 dollars.", ["money: USD 12"]),
    ("Shipping is £4.50.", ["money: GBP 4.5"]),
    ("The fee is $5.00.", ["money: USD 5"]),
    ("Plans cost $10-$20 a month.", ["money: USD 10-20"]),
    # zero amounts are facts
    ("There is no fee for this.", ["money: 0"]),
    ("Cancelling is free of charge.", ["money: 0"]),
    ("We replace it at no extra cost.", ["money: 0"]),
    ("There is a 5 euro fee.", ["money: EUR 5"]),
    ("Feel free to ask.", []),
    # percents
    ("Interest is 2.1 percent a year.", ["percent: 2.1", ]),
    ("Interest is 2.1%.", ["percent: 2.1"]),
    ("Interest is 2.10 per cent.", ["percent: 2.1"]),
    ("A five percent discount.", ["percent: 5"]),
    # durations and ranges
    ("Wait 30 minutes.", ["duration:minute: 30"]),
    ("Wait thirty minutes.", ["duration:minute: 30"]),
    ("It takes one hour.", ["duration:hour: 1"]),
    ("It arrives in 3 to 5 business days.", ["duration:business_day: 3-5"]),
    ("It arrives in 3-5 business days.", ["duration:business_day: 3-5"]),
    ("It arrives in 3–5 business days.", ["duration:business_day: 3-5"]),
    ("It arrives in between 3 and 5 business days.", ["duration:business_day: 3-5"]),
    ("It arrives in three to five business days.", ["duration:business_day: 3-5"]),
    ("It arrives in 3-5 working days.", ["duration:working_day: 3-5"]),
    ("Within 1 day.", ["duration:day: 1"]),
    ("Within 2 days.", ["duration:day: 2"]),
    ("A 2-year warranty.", ["duration:year: 2"]),
    ("Return it within 30 days.", ["duration:day: 30"]),
    ("The link is valid for 24 hrs.", ["duration:hour: 24"]),
    ("It takes twenty-four hours.", ["duration:hour: 24"]),
    # plain numbers with their unit
    ("After 5 failed attempts you are locked out.", ["number:failed: 5"]),
    ("Split it into 4 interest-free instalments.", ["number:instalment: 4"]),
    ("You get 3 replacement cards.", ["number:replacement: 3"]),
    ("Pick one you like.", []),
    ("1. Open the app\n2. Tap Cards > Freeze.", ["path: cards > freeze"]),
    ("Step 2: confirm within 10 minutes.", ["duration:minute: 10"]),
    ("The most you can try is 5.", ["number: 5"]),
    # dates, times, ordinals
    ("It ships on 2024-05-01.", ["date: 2024-05-01"]),
    ("It ships on 1 May 2024.", ["date: 2024-05-01"]),
    ("It ships on May 1st, 2024.", ["date: 2024-05-01"]),
    ("It ships on the 1st of May.", ["date: 05-01"]),
    ("It ships on Monday.", ["weekday: monday"]),
    ("It ships by 31/12/2024.", ["date: 31/12/2024"]),
    ("Support is there 24/7.", ["number: 24/7"]),
    ("Order before 2 pm.", ["time: 14:00"]),
    ("Order before 2:30 p.m.", ["time: 14:30"]),
    ("Order before 14:30.", ["time: 14:30"]),
    ("Order before noon.", ["time: 12:00"]),
    ("On the 3rd attempt.", ["ordinal: 3"]),
    ("On the third attempt.", ["ordinal: 3"]),
    # menu and UI paths, quoted names
    ("Go to Settings > Limits to change it.", ["path: settings > limits"]),
    ("Open Cards > Freeze card and confirm.", ["path: cards > freeze card"]),
    ("Open Settings → Security.", ["path: settings > security"]),
    ("Under My Orders > Return an item, print the label.", ["path: my orders > return an item"]),
    ("Tap Settings > Cards > Card limits.", ["path: settings > cards > card limits"]),
    ('Press "Freeze card" on the card screen.', ["quoted: freeze card"]),
    ("Press “Freeze card” on the card screen.", ["quoted: freeze card"]),
    # emails, urls, phones
    ("Write to Help@NorthBank.com today.", ["email: help@northbank.com"]),
    ("See https://www.northbank.com/help/ for more.", ["url: northbank.com/help"]),
    ("See northbank.com/help.", ["url: northbank.com/help"]),
    ("Call +1 800 555 0199.", ["phone: +18005550199"]),
    ("Call (800) 555-0199.", ["phone: 8005550199"]),
    # ids: counted when shaped like an id of the prompt; their digits are no number
    ("Your order NW-44688 has shipped.", ["id: NW-44688"]),
    ("Your order NW-12345 has shipped.", ["id: NW-12345"]),
    ("Your ticket TK-99 is open.", []),
    ("Use code AB12CD for 10 percent off.", ["percent: 10"]),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0][:40] for c in CASES])
def test_extraction_and_normalisation(text, expected):
    assert [str(f) for f in FactExtractor().extract(text, PROMPT)] == expected


def test_the_table_is_large_enough():
    assert len(CASES) >= 40


def test_glossary_names_are_facts_case_insensitively():
    extractor = FactExtractor(glossary=["Falcon Binoculars", "Premium plan"])
    assert extractor.extract("the falcon binoculars on the PREMIUM PLAN", "") == [
        Fact("glossary", "Falcon Binoculars"), Fact("glossary", "Premium plan")]


def test_facts_keep_the_words_that_state_them():
    text = "It takes three to five business days — fee: ten thousand euros. See Settings > Limits now."
    assert [words for _, words in FactExtractor().extract_with_text(text, "")] == [
        "three to five business days", "ten thousand euros", "Settings > Limits"]


def test_same_fact_in_other_words_is_equal():
    e = FactExtractor()
    assert e.extract("a limit of €10,000", "") == e.extract("a limit of ten thousand euros", "")
    assert e.extract("in 3 to 5 business days", "") == e.extract("in between three and five business days", "")
    assert e.extract("within 1 day", "")[0].kind == e.extract("within 2 days", "")[0].kind


# ---- verdict rules --------------------------------------------------------------------------------------------

def verdict(reference: str, answer: str, **options) -> dict:
    e = FactExtractor(glossary=options.pop("glossary", []))
    return judge(e.extract(reference, PROMPT), e.extract(answer, PROMPT), **options)


REFERENCE = "Order a replacement under Cards > Replace card; it arrives in 3 to 5 business days."


def test_correct_when_every_fact_is_there_in_other_words():
    v = verdict(REFERENCE, "Go to Cards > Replace card. Expect it within 3-5 business days.")
    assert v["verdict"] == "correct" and not v["missing"] and not v["invented"]


def test_contradicted_when_the_same_kind_has_another_value():
    v = verdict(REFERENCE, "Go to Cards > Replace card; we refund you in 30 business days.")
    assert v["verdict"] == "contradicted"
    assert v["contradicted"] == [["duration:business_day: 3-5", "duration:business_day: 30"]]


def test_no_fee_contradicts_a_fee():
    assert verdict("There is no fee.", "There is a 5 euro fee.")["verdict"] == "contradicted"
    assert verdict("There is a 5 euro fee.", "It is free of charge.")["verdict"] == "contradicted"
    assert verdict("It is free of charge.", "There is no fee.")["verdict"] == "correct"


def test_missing_when_a_fact_is_absent_and_nothing_contradicts_it():
    v = verdict(REFERENCE, "Go to Cards > Replace card.")
    assert v["verdict"] == "missing" and v["missing"] == ["duration:business_day: 3-5"]


def test_invented_when_the_answer_adds_a_kind_of_fact():
    v = verdict(REFERENCE, "Cards > Replace card, 3-5 business days, and it costs $10.")
    assert v["verdict"] == "invented" and v["invented"] == ["money: USD 10"]
    assert verdict(REFERENCE, "Cards > Replace card, 3-5 business days, and it costs $10.",
                   invented_is_wrong=False)["verdict"] == "correct"


def test_precedence_contradicted_before_missing_before_invented():
    # a wrong duration, a missing path and an invented amount: contradicted wins
    assert verdict(REFERENCE, "It arrives in 30 business days and costs $10.")["verdict"] == "contradicted"
    # a missing path and an invented amount: missing wins
    assert verdict(REFERENCE, "It arrives in 3-5 business days and costs $10.")["verdict"] == "missing"


def test_an_extra_value_of_a_stated_kind_is_not_a_contradiction():
    v = verdict(REFERENCE, "Cards > Replace card: 3-5 business days, rarely 10 business days.")
    assert v["verdict"] == "correct"


def test_wrong_order_number_contradicts_and_glossary_names_count():
    assert verdict("Order NW-44688 has shipped.", "Order NW-12345 has shipped.")["verdict"] == "contradicted"
    v = verdict("The Falcon Binoculars have a 2-year warranty.", "The Summit Tent has a 2-year warranty.",
                glossary=["Falcon Binoculars", "Summit Tent"])
    assert v["contradicted"] == [["glossary: Falcon Binoculars", "glossary: Summit Tent"]]


def test_no_facts_in_the_reference():
    assert verdict("You're welcome! Have a great day.", "It costs $5.")["verdict"] == "no_facts"


# ---- the metric ----------------------------------------------------------------------------------------------

def frame(references, answers):
    prompts = [json.dumps([{"role": "user", "content": PROMPT}])] * len(references)
    return pl.DataFrame({"prompt": prompts, "reference": references, "prediction": answers})


def test_metric_scores_the_fraction_correct_of_applicable_examples():
    result = Facts().compute(frame(
        [REFERENCE, REFERENCE, "Order NW-44688 ships today.", "Have a nice day!"],
        ["Cards > Replace card: 3-5 business days.", "It arrives in 30 business days.", "Order NW-44688 ships today.",
         "Bye"]))
    assert result.per_example == [1.0, 0.0, 1.0, None]
    assert result.score == pytest.approx(2 / 3)
    assert result.higher_is_better is True and result.aggregate == "mean" and Facts.paired_test == "mcnemar"
    d = result.details
    assert d["verdicts"] == ["correct", "contradicted", "correct", None]
    assert d["counts"] == {"correct": 2, "contradicted": 1, "no_facts": 1} and d["applicable"] == 3
    assert d["facts"][3] is None and d["facts"][2]["reference_facts"] == ["id: NW-44688"]
    assert d["facts"][1]["answer_text"] == {"duration:business_day: 30": "30 business days"}
    json.dumps(result.to_dict())


def test_metric_is_skipped_without_any_checkable_reference():
    result = Facts().compute(frame(["Hello there."], ["Hi"]))
    assert result.skipped and result.score is None


def test_patterns_option_adds_kinds():
    metric = Facts({"patterns": {"plan": [r"\b(?P<value>gold|silver) plan\b"]}})
    result = metric.compute(frame(["You are on the Gold plan."], ["You are on the silver plan."]))
    assert result.details["facts"][0]["contradicted"] == [["plan: gold", "plan: silver"]]


def test_invalid_pattern_is_a_clear_error():
    with pytest.raises(WorkbenchError, match=r"patterns\['plan'\]"):
        Facts({"patterns": {"plan": ["(unclosed"]}}).compute(frame(["x"], ["y"]))


def test_a_subclass_adds_extractors():
    class BankFacts(Facts):
        name = "bank_facts"
        extra_rules = (Rule("iban", r"\bDE\d{2}(?: ?\d{4}){4} ?\d{2}\b", lambda m: m.group(0).replace(" ", "")),)

    result = BankFacts().compute(frame(["Pay to DE89 3704 0044 0532 0130 00."], ["Pay to DE89370400440532013000."]))
    assert result.details["facts"][0]["reference_facts"] == ["iban: DE89370400440532013000"]
    assert result.per_example == [1.0]


def test_every_sample_reference_with_numbers_yields_them(sample_dir):
    """Sanity check on the sample data: the numbers, ids and durations of every reference are found."""
    import re

    extractor = FactExtractor()
    for line in (sample_dir / "heldout.jsonl").read_text().splitlines():
        row = json.loads(line)
        reference = row["messages"][-1]["content"]
        prompt = " ".join(m["content"] for m in row["messages"][:-1])
        facts = extractor.extract(reference, prompt)
        values = " ".join(f.value for f in facts)
        for digits in re.findall(r"(?<![\w-])\d+(?:\.\d+)?", reference.replace(",", "")):
            assert digits.rstrip("0").rstrip(".") in values or digits in values, (row["id"], digits, facts)
        for order in re.findall(r"NW-\d+", reference):
            assert Fact("id", order) in facts, row["id"]
