"""The white strips above and below a comparison picture: column titles and a class legend."""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
CAPTION_FONT_SCALE = 0.5
STRIP_HEIGHT = 28
MARGIN = 8  # pixels between a strip's left edge (or a column's) and its first text


def caption_strip(width: int, entries: Sequence[Tuple[int, str, Optional[tuple]]]) -> np.ndarray:
    """A white (STRIP_HEIGHT, width, 3) strip with ``(x, text, BGR swatch or None)`` entries."""
    strip = np.full((STRIP_HEIGHT, width, 3), 255, np.uint8)
    for x, text, swatch in entries:
        if swatch is not None:
            cv2.rectangle(strip, (x, 8), (x + 14, 22), swatch, -1)
            x += 18
        cv2.putText(strip, text, (x, 20), FONT, CAPTION_FONT_SCALE, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def title_strip(width: int, titles: Sequence[str]) -> np.ndarray:
    """A strip naming each of ``len(titles)`` equally wide columns."""
    column = width // len(titles)
    return caption_strip(width, [(i * column + MARGIN, title, None)
                                 for i, title in enumerate(titles)])


def legend_strip(width: int, names: Sequence[str],
                 colours: Sequence[Tuple[int, int, int]]) -> np.ndarray:
    """A strip with a swatch of each BGR colour, followed by its name."""
    entries, x = [], MARGIN
    for name, colour in zip(names, colours):
        entries.append((x, name, tuple(colour)))
        x += 30 + cv2.getTextSize(name, FONT, CAPTION_FONT_SCALE, 1)[0][0]
    return caption_strip(width, entries)
