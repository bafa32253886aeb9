"""The report's sections as markdown (reports/report.md, which GitHub renders) and as one self-contained HTML
page: a linked table of contents, inline markdown rendered by markdown-it, wide tables wrapped inside the
page, figures embedded."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from markdown_it import MarkdownIt

MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
STYLE = ("body{font-family:sans-serif;max-width:1300px;margin:auto;padding:0 12px}"
         "table{border-collapse:collapse;font-size:12px;display:block;max-width:100%;overflow-x:auto}"
         "td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top;overflow-wrap:break-word}"
         "td{max-width:32em}img{max-width:100%}nav ul{display:flex;flex-wrap:wrap;gap:4px 16px;padding:0}"
         "nav li{list-style:none}"
         "figure{margin:8px 0}code{overflow-wrap:anywhere}")


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)  # inline markdown
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (caption, path relative to the report)

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9_-]+", "-", self.title.lower()).strip("-")


def contents(sections: list[Section]) -> str:
    return "Contents: " + " · ".join(f"[{s.title}](#{s.anchor})" for s in sections)


def render_markdown(sections: list[Section], lead: str, title: str = "weightreg report") -> str:
    lines = [f"# {title}", "", lead, "", contents(sections), ""]
    for section in sections:
        lines += [f'<a id="{section.anchor}"></a>', "", f"## {section.title}", ""]
        lines += [p + "\n" for p in section.paragraphs if p]
        for caption, table in section.tables:
            lines += [f"*{caption}*", "", table.to_markdown(index=False), ""]
        for caption, path in section.figures:
            lines += [f"![{caption}]({path})", "", f"*{caption}*", ""]
    return "\n".join(lines)


def inline(text: str) -> str:
    """Inline markdown (emphasis, code, links) as HTML; the text is escaped by the renderer."""
    return MARKDOWN.renderInline(text)


def table_html(table: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{inline(str(v))}</td>" for v in row) + "</tr>"
                   for row in table.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(sections: list[Section], out: Path, lead: str, title: str = "weightreg report") -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body>", f"<h1>{html.escape(title)}</h1>", f"<p>{inline(lead)}</p>",
             "<nav><ul>" + "".join(f"<li><a href='#{s.anchor}'>{html.escape(s.title)}</a></li>" for s in sections)
             + "</ul></nav>"]
    for section in sections:
        parts.append(f"<h2 id='{section.anchor}'>{html.escape(section.title)}</h2>")
        parts += [f"<p>{inline(p)}</p>" for p in section.paragraphs if p]
        for caption, table in section.tables:
            parts.append(f"<p><em>{inline(caption)}</em></p>" + table_html(table))
        for caption, path in section.figures:
            data = base64.b64encode((out / path).read_bytes()).decode()
            parts.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{inline(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)
