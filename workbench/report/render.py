"""Render the report document as self-contained HTML or Markdown, and write all formats.

HTML: inline CSS (screen and print), inline SVG, no script and no external
resource; every text goes through ``html.escape`` (charts escape their own
labels). Markdown: text cells escaped so ``<script>`` or ``|`` in a row
cannot become markup.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from workbench.report import fmt
from workbench.report.document import Chart, Diff, Marked, P, Section, Table, build_document

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:13px;max-width:100%}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top;white-space:pre-wrap;word-break:break-word}
th{background:#f4f4f4}p.warn{color:#b71c1c;font-weight:600}p.good{color:#1b5e20;font-weight:600}
.diff{font-family:ui-monospace,monospace;font-size:12px;background:#fafafa;border:1px solid #eee;padding:.4rem;white-space:pre-wrap}
del{background:#ffebee;color:#b71c1c}mark{background:#ffcdd2;color:#b71c1c;font-weight:600}ins{background:#e8f5e9;color:#1b5e20;text-decoration:none}
svg{max-width:100%;height:auto}
@media print{body{margin:0;max-width:none;font-size:11px}h2{break-after:avoid}table,svg,.diff{break-inside:avoid}}
"""


def _cell(value: Any) -> str:
    return fmt.num(value) if not isinstance(value, (dict, list)) else json.dumps(value, ensure_ascii=False, default=str)


def html_block(block: Any) -> str:
    if isinstance(block, P):
        cls = f' class="{block.tone}"' if block.tone else ""
        return f"<p{cls}>{escape(block.text)}</p>"
    if isinstance(block, Table):
        head = "".join(f"<th>{escape(h)}</th>" for h in block.headers)
        body = "".join("<tr>" + "".join(f"<td>{escape(_cell(c))}</td>" for c in row) + "</tr>" for row in block.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, Chart):
        return f'<figure aria-label="{escape(block.alt)}">{block.svg}</figure>'
    if isinstance(block, Diff):
        tags = {"=": "span", "-": "del", "+": "ins"}
        return '<div class="diff">' + " ".join(f"<{tags[op]}>{escape(text)}</{tags[op]}>" for op, text in block.segments) + "</div>"
    if isinstance(block, Marked):
        return '<div class="diff">' + "".join(f"<mark>{escape(t)}</mark>" if m else escape(t) for t, m in block.pieces) + "</div>"
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_html(sections: list[Section], title: str) -> str:
    body = "".join(f"<section><h{s.level}>{escape(s.title)}</h{s.level}>" + "".join(html_block(b) for b in s.blocks)
                   + "</section>" for s in sections)
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n")


def md_text(text: Any) -> str:
    """Escape text for a Markdown table cell or paragraph (no HTML, no table breaks).

    ``&`` and ``<`` are what a Markdown renderer could read as HTML; ``>`` stays
    as written (``base 1% -> tuned 9%`` reads as plain text) except at the start,
    where it would open a block quote.
    """
    s = _cell(text).replace("&", "&amp;").replace("<", "&lt;")
    s = "\\>" + s[1:] if s.startswith(">") else s
    return s.replace("|", "\\|").replace("\r", " ").replace("\n", "<br>")


def md_block(block: Any) -> str:
    if isinstance(block, P):
        return ("**" + md_text(block.text) + "**" if block.tone == "warn" else md_text(block.text)) + "\n"
    if isinstance(block, Table):
        lines = ["| " + " | ".join(md_text(h) for h in block.headers) + " |",
                 "|" + "---|" * len(block.headers)]
        lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in block.rows]
        return "\n".join(lines) + "\n"
    if isinstance(block, Chart):
        return f"_{md_text(block.alt)}_\n"
    if isinstance(block, Diff):
        marks = {"=": "{}", "-": "~~{}~~", "+": "**{}**"}
        return "diff: " + " ".join(marks[op].format(md_text(text)) for op, text in block.segments) + "\n"
    if isinstance(block, Marked):
        return "answer: " + "".join(f"**{md_text(t)}**" if m else md_text(t) for t, m in block.pieces) + "\n"
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_markdown(sections: list[Section]) -> str:
    return "\n".join("#" * s.level + " " + md_text(s.title) + "\n\n" + "\n".join(md_block(b) for b in s.blocks)
                     for s in sections)


FORMATS = ("html", "md", "json")


def write_report(report: dict[str, Any], out_dir: Path, formats: tuple[str, ...] | list[str] = FORMATS) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and ``report.json`` (as chosen) into ``out_dir``."""
    from workbench.runtime import store

    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown report formats {sorted(unknown)}; choose from {FORMATS}")
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = build_document(report)
    paths = {}
    if "html" in formats:
        paths["html"] = out_dir / "report.html"
        store.write_text(paths["html"], render_html(sections, report["title"]))
    if "md" in formats:
        paths["md"] = out_dir / "report.md"
        store.write_text(paths["md"], render_markdown(sections))
    if "json" in formats:
        paths["json"] = out_dir / "report.json"
        store.write_json(paths["json"], report)
    return paths
