"""Inline SVG charts (no script, no external resources); every label escaped."""

from __future__ import annotations

from html import escape

WIN, TIE, LOSS = "#2e7d32", "#9e9e9e", "#c62828"


def win_tie_loss_chart(rows: list[tuple[str, int, int, int]], width: int = 640) -> str:
    """Stacked horizontal bars: share of wins, ties and losses per metric."""
    bar_h, gap, label_w = 18, 8, 150
    height = len(rows) * (bar_h + gap) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}"><title>wins, ties and losses per metric</title>']
    plot_w = width - label_w - 10
    for k, (label, w, t, l) in enumerate(rows):
        y = k * (bar_h + gap)
        total = max(w + t + l, 1)
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_h - 4}" text-anchor="end" font-size="12">{escape(label)}</text>')
        x = float(label_w)
        for value, colour, name in ((w, WIN, "wins"), (t, TIE, "ties"), (l, LOSS, "losses")):
            seg = plot_w * value / total
            if seg > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{seg:.1f}" height="{bar_h}" fill="{colour}">'
                             f'<title>{escape(label)}: {value} {name}</title></rect>')
            x += seg
    y = len(rows) * (bar_h + gap) + 14
    for i, (colour, name) in enumerate(((WIN, "win"), (TIE, "tie"), (LOSS, "loss"))):
        parts.append(f'<rect x="{label_w + i * 80}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{label_w + i * 80 + 16}" y="{y}" font-size="12">{name}</text>')
    parts.append("</svg>")
    return "".join(parts)


def difference_chart(rows: list[tuple[str, float]], width: int = 640) -> str:
    """Horizontal bars of signed differences around a zero line (green up, red down)."""
    bar_h, gap, label_w = 16, 6, 180
    height = len(rows) * (bar_h + gap) + 10
    biggest = max((abs(d) for _, d in rows), default=0) or 1.0
    plot_w = (width - label_w - 60) / 2
    zero = label_w + plot_w
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}"><title>difference per slice</title>',
             f'<line x1="{zero}" y1="0" x2="{zero}" y2="{height}" stroke="#444"/>']
    for k, (label, d) in enumerate(rows):
        y = k * (bar_h + gap)
        w = plot_w * abs(d) / biggest
        x = zero if d >= 0 else zero - w
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_h - 3}" text-anchor="end" font-size="12">{escape(label)}</text>'
                     f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{WIN if d >= 0 else LOSS}">'
                     f'<title>{escape(label)}: {d:+.4g}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)
