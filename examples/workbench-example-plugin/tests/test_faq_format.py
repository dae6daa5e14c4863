"""Tests of the example plugin's reader and writer: read through the loader's checks, written back, read again."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from workbench_example_plugin.faq import FaqMarkdownReader, FaqMarkdownWriter

import workbench
from workbench.testing import chat_rows, read_file

FAQ = """\
## Do I need a lawyer to make a will?
No, but a solicitor helps when the estate is complex.

# tenancy
## Can my landlord keep my whole deposit? {#deposit-1}
Only for unpaid rent or for damage beyond normal wear and tear.

Ask for an itemised list of deductions.

## How much notice must my landlord give?
Usually two months for a periodic tenancy.

# employment
## Can I be dismissed while on sick leave?
"""


def test_reader_turns_each_question_into_a_labelled_chat(tmp_path):
    path = tmp_path / "faq.md"
    path.write_text(FAQ)
    result = read_file(FaqMarkdownReader, path)
    table = result.table
    assert table.height == 3 and result.rows_read == 4
    assert table["label"].to_list() == [None, "tenancy", "tenancy"]
    deposit = table.row(1, named=True)
    assert deposit["id"] == "deposit-1"
    assert [m["content"] for m in deposit["messages"]] == [
        "Can my landlord keep my whole deposit?",
        "Only for unpaid rent or for damage beyond normal wear and tear.\n\nAsk for an itemised list of deductions."]
    # the question without an answer is quarantined by the loader, naming its line and the answer field
    [empty] = result.quarantined
    assert (empty.line, empty.codes) == (14, "empty_content")
    assert any(p.field == "answer" and p.line == 14 for p in result.problems)


def test_reader_quarantines_text_before_the_first_question_and_lines_that_are_not_utf8(tmp_path):
    path = tmp_path / "faq.md"
    path.write_bytes(b"Our answers are not legal advice.\n\n## Is a verbal contract binding?\nOften \xff yes.\nIn writing is safer.\n"
                     b"## Can I record a call?\nOnly with consent in some places.\n")
    result = read_file(FaqMarkdownReader, path)
    assert result.table["messages"].to_list()[0][0]["content"] == "Can I record a call?"
    assert [(q.line, q.codes) for q in result.quarantined] == [(1, "missing_messages"), (3, "invalid_utf8")]
    assert result.rows_read == 3


def test_reader_claims_markdown_files_with_question_headings():
    reader = FaqMarkdownReader({})
    scores = [reader.detect(SimpleNamespace(suffix=suffix, head=head, records=[])) for suffix, head in [
        (".md", FAQ.encode()), (".md", b"# Release notes\n- fixed a bug\n"), (".jsonl", FAQ.encode())]]
    assert scores == [0.9, 0.1, 0.0]


def test_writer_round_trips_questions_answers_labels_and_ids(tmp_path):
    rows = chat_rows(["Can I break my lease early?", "Is a text message a valid notice?"],
                     ["Only if the lease has a break clause.", "Check the notice clause.\n\nOften it must be written."],
                     label=["tenancy", None])
    path = tmp_path / "out.md"
    FaqMarkdownWriter({}).write(rows, str(path))
    text = path.read_text()
    assert text.index("## Is a text message") < text.index("# tenancy")  # unlabelled rows before the topics
    again = read_file(FaqMarkdownReader, path).table.sort("id")
    assert again["id"].to_list() == ["r0", "r1"]
    assert again["label"].to_list() == ["tenancy", None]
    assert again["messages"].to_list() == rows.sort("id")["messages"].to_list()


@pytest.mark.parametrize(("question", "answer", "why"), [
    ("Two\nlines?", "yes", "spans several lines"),
    ("Heading?", "# not an answer", "starts with '#'"),
])
def test_writer_refuses_rows_an_faq_cannot_hold_naming_the_row(tmp_path, question, answer, why):
    with pytest.raises(workbench.WorkbenchError, match=f"row 'r0' cannot be written as faq-markdown: .*{why}"):
        FaqMarkdownWriter({}).write(chat_rows([question], [answer]), str(tmp_path / "out.md"))


def test_writer_refuses_multi_turn_conversations(tmp_path):
    rows = chat_rows(["a"], ["b"]).with_columns(
        messages=chat_rows(["a"], ["b"])["messages"].list.concat(chat_rows(["c"], ["d"])["messages"]))
    with pytest.raises(workbench.WorkbenchError, match="user/assistant/user/assistant") as caught:
        FaqMarkdownWriter({}).write(rows, str(tmp_path / "out.md"))
    assert caught.value.hint == "write openai-chat or workbench-jsonl, which keep whole conversations"
