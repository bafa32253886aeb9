"""The project's documentation as the tests read it: README.md and every docs/*.md page. A section is found by its
heading, a recipe by the start of its bullet, in whichever of these files holds it (so that a section can move from
README.md to a docs/ page without touching a test); not found, or found in two places, is a failure naming both."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^(```|~~~)")


def pages() -> dict[str, str]:
    """Every documentation file's text, by its path relative to the project (README.md first)."""
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return {str(path.relative_to(ROOT)): path.read_text() for path in paths}


def headings(text: str) -> list[tuple[int, int, str, int]]:
    """(offset, level, title, end) of each Markdown heading outside fenced blocks; `end`: where its section stops (the
    next heading of the same or a higher level, or the end of the text)."""
    found, fenced, offset = [], False, 0
    for line in text.splitlines(keepends=True):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and (match := re.match(r"(#{1,6}) +(.+?) *#*\s*$", line)):
            found.append((offset, len(match.group(1)), match.group(2).strip()))
        offset += len(line)
    ends = []
    for i, (start, level, _) in enumerate(found):
        ends.append(next((other for other, other_level, _ in found[i + 1 :] if other_level <= level), len(text)))
    return [(start, level, title, end) for (start, level, title), end in zip(found, ends)]


def only_one(found: list[tuple[str, str]], what: str) -> str:
    places = [place for place, _ in found]
    assert found, f"no {what} in README.md or docs/*.md"
    assert len(found) == 1, f"{what} found {len(found)} times (in {', '.join(places)}); expected once"
    return found[0][1]


def section(title: str) -> str:
    """The section headed `title` (any heading level), with its subsections, from the one file that has it."""
    found = [(path, text[start:end]) for path, text in pages().items()
             for start, _, heading, end in headings(text) if heading == title]
    return only_one(found, f"section headed {title!r}")


def bullet(start: str, within: str | None = None) -> str:
    """The list item that begins with `start` (up to the next item or paragraph), whitespace collapsed; searched in
    every documentation file, or only in the section headed `within`."""
    texts = {f"section {within!r}": section(within)} if within else pages()
    found = [(path, " ".join(match.group(0).split()))
             for path, text in texts.items() for match in re.finditer(rf"(?:^|\n)- {re.escape(start)}(.*?)(?=\n- |\n\n|$)", text, re.S)]
    return only_one(found, f"recipe starting {start!r}")


def sh_commands(text: str) -> list[str]:
    """The commands of the fenced ```sh blocks in `text`, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command:
                commands.append(" ".join(command.split()))
    return commands


def quoted(text: str) -> list[str]:
    """The inline code of `text` (outside its fenced blocks)."""
    return re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
