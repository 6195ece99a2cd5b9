"""Makes DejaVuSans-Subset.ttf, the font imgdist draws its pictures with.

DejaVu Sans 2.37 cut down to the characters pictures use (Latin, Greek, punctuation,
super- and subscripts, arrows, mathematical operators), without hinting, and renamed as
the licence asks of modified fonts (LICENSE-DejaVu.txt).

    pip install fonttools
    python assets/fonts/make_subset.py path/to/DejaVuSans.ttf
"""

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

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
    font.save(out)
    print(f"{out}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
