"""The Markdown tables of the reports."""
from typing import Sequence


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table of text cells; ``rows[0]`` is the header."""
    lines = ['| ' + ' | '.join(rows[0]) + ' |', '|' + '---|' * len(rows[0])]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows[1:]]
    return '\n'.join(lines)
