"""Makes DejaVuSans-Subset.ttf, the font imgdist draws its pictures with.

DejaVu Sans 2.37 cut down to the characters pictures use (Latin, Greek, punctuation,
super- and subscripts, arrows, mathematical operators), without hinting, and renamed as
the licence asks of modified fonts (LICENSE-DejaVu.txt).

One more change, invisible in any renderer: every glyph whose ink starts right of its
origin gets an extra contour of a single point at x = 0, so that its bounding box starts at
the origin. plotters 0.3 draws a glyph's bounding box at the pen position, which drops the
left side bearing and runs letters such as "i" and "1" into their left neighbour; with the
box starting at the origin the bearing is kept. A one-point contour has no area, so it adds
no ink.

    pip install fonttools
    python assets/fonts/make_subset.py path/to/DejaVuSans.ttf
"""

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont
from fontTools.ttLib.tables import ttProgram
from fontTools.ttLib.tables._g_l_y_f import Glyph, GlyphCoordinates

UNICODES = (
    "U+0020-007E,U+00A0-017F,U+0370-03FF,U+2010-2027,U+2030-205E,"
    "U+2070-209F,U+2190-21FF,U+2200-22FF,U+25A0-25FF"
)
FAMILY = "DejaVu Sans Subset"


def main(source: str) -> None:
    out = Path(__file__).with_name("DejaVuSans-Subset.ttf")
    subset.main(
        [
            source,
            f"--unicodes={UNICODES}",
            "--no-hinting",
            "--layout-features=kern",
            f"--output-file={out}",
        ]
    )
    font = TTFont(out)
    names = font["name"]
    for record in names.names:
        if record.nameID in (1, 3, 4):
            names.setName(FAMILY, record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 6:
            names.setName(FAMILY.replace(" ", ""), 6, record.platformID, record.platEncID, record.langID)
    anchor_boxes_at_origin(font)
    font.save(out)
    print(f"{out}: {out.stat().st_size} bytes")


def anchor_boxes_at_origin(font: TTFont) -> None:
    glyf, hmtx = font["glyf"], font["hmtx"]
    for name in font.getGlyphOrder():
        glyph = glyf[name]
        if glyph.numberOfContours == 0:
            continue
        coords, ends, flags = glyph.getCoordinates(glyf)  # components resolved
        x_min = min(x for x, _ in coords)
        if x_min <= 0:
            continue
        y_min = min(y for _, y in coords)
        simple = Glyph()
        simple.coordinates = GlyphCoordinates(list(coords) + [(0, y_min)])
        simple.endPtsOfContours = list(ends) + [len(coords)]
        simple.flags = bytearray(flags) + bytearray([1])  # on the curve
        simple.numberOfContours = len(simple.endPtsOfContours)
        simple.program = ttProgram.Program()
        simple.program.fromBytecode(b"")
        simple.recalcBounds(glyf)
        glyf[name] = simple
        advance, _ = hmtx[name]
        hmtx[name] = (advance, 0)


if __name__ == "__main__":
    main(sys.argv[1])
