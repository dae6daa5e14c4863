"""A Markdown FAQ format, as legal teams keep their client FAQs: the reader and writer families.

```markdown
# tenancy
## Can my landlord keep my whole deposit? {#deposit-1}
Only for unpaid rent or damage beyond normal wear and tear.
```

A ``# topic`` heading is the label of the questions under it; each ``## question``
heading (optionally with a ``{#id}`` anchor) and the text below it is one chat: the
question as the user turn, the text as the assistant turn.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import polars as pl

import workbench

HEADING = re.compile(r"^(#{1,2})[ \t]+(.*?)[ \t]*$")
ANCHOR = re.compile(r"[ \t]*\{#([^\s{}]+)\}$")


class FaqBlock:
    """The lines of one question (or of stray text before the first one) while they are read."""

    def __init__(self, line: int, question: str | None, label: str | None) -> None:
        self.line, self.label = line, label
        self.question, self.id = question, None
        if question is not None and (anchor := ANCHOR.search(question)):
            self.question, self.id = question[:anchor.start()], anchor.group(1)
        self.answer: list[str] = []
        self.problems: list[workbench.Problem] = []

    def record(self) -> workbench.Record:
        answer = "\n".join(self.answer).strip("\n")
        raw = "\n".join(([f"## {self.question}"] if self.question is not None else []) + self.answer).strip("\n")
        if self.question is None:  # nothing to ask: quarantined whole, so no line is lost
            return workbench.Record(self.line, raw, None, [*self.problems, workbench.problem(
                self.line, "question", "missing_messages", "text before the first '## question' heading")])
        fields: dict[str, Any] = {"messages": [{"role": "user", "content": self.question},
                                               {"role": "assistant", "content": answer}], "label": self.label}
        if self.id is not None:
            fields["id"] = self.id
        return workbench.Record(self.line, raw, fields, self.problems, paths=["question", "answer"])


class FaqMarkdownReader(workbench.Reader):
    """One chat per ``## question``; its ``# topic`` is the label. An empty answer is the loader's
    ``empty_content`` error, a line that is not UTF-8 quarantines its question (``invalid_utf8``)."""

    name = "faq-markdown"
    description = "Markdown FAQ: '# topic' headings (label), '## question {#id}' headings and their answers"
    version = "1"
    extensions = (".md",)

    def detect(self, sample: Any) -> float:
        if sample.suffix not in self.extensions:
            return 0.0
        return 0.9 if re.search(rb"^## \S", sample.head, re.MULTILINE) else 0.1

    def read(self, path: str, **kwargs: Any) -> Iterator[workbench.Record]:
        label: str | None = None
        block: FaqBlock | None = None
        with open(path, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                try:
                    line = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError:
                    block = block or FaqBlock(number, None, label)
                    block.problems.append(workbench.problem(number, "answer", "invalid_utf8", "a line that is not UTF-8"))
                    continue
                heading = HEADING.match(line)
                if heading:
                    if block is not None:
                        yield block.record()
                    block = None
                    if heading.group(1) == "#":
                        label = heading.group(2) or None
                    else:
                        block = FaqBlock(number, heading.group(2), label)
                elif block is not None:
                    block.answer.append(line)
                elif line.strip():
                    block = FaqBlock(number, None, label)
                    block.answer.append(line)
        if block is not None:
            yield block.record()


class FaqMarkdownWriter(workbench.Writer):
    """Writes questions, answers, labels and ids (not scenario, split or meta: workbench-jsonl keeps those)."""

    name = "faq-markdown"
    description = "Markdown FAQ: one '# label' section per label, '## question {#id}' and the answer below"
    version = "1"
    extensions = (".md",)

    def write(self, table: pl.DataFrame, path: str) -> None:
        sections: dict[str | None, list[str]] = {}
        for row in table.iter_rows(named=True):
            question, answer = faq_exchange(row)
            sections.setdefault(row.get("label"), []).append(f"## {question} {{#{row['id']}}}\n\n{answer}\n")
        parts = sections.pop(None, [])  # rows without a label come before the first topic heading
        for label, entries in sections.items():
            parts += [f"# {label}\n", *entries]
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(parts))


def faq_exchange(row: dict[str, Any]) -> tuple[str, str]:
    """(question, answer) of a row the FAQ can hold; a WorkbenchError naming the row otherwise."""
    turns = row.get("messages") or []
    if [t["role"] for t in turns] != ["user", "assistant"] or any(t.get("weight") == 0 for t in turns):
        raise workbench.WorkbenchError(
            f"row {row.get('id')!r} cannot be written as faq-markdown: it has the turns "
            f"{'/'.join(t['role'] for t in turns)}; an FAQ entry is one question and its answer (every turn trained)",
            hint="write openai-chat or workbench-jsonl, which keep whole conversations")
    question, answer = turns[0]["content"], turns[1]["content"].strip("\n")
    why = ("its question spans several lines" if "\n" in question
           else "its id cannot be a Markdown anchor (spaces or braces)" if not re.fullmatch(r"[^\s{}]+", row["id"])
           else "a line of its answer starts with '#' and would read as a heading"
           if any(HEADING.match(line) for line in answer.split("\n")) else None)
    if why:
        raise workbench.WorkbenchError(f"row {row['id']!r} cannot be written as faq-markdown: {why}",
                                       hint="edit the row, or write workbench-jsonl")
    return question, answer
