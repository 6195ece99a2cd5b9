"""Write the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/).

Each target replays its seeds unchanged, then mutates them (byte flips, truncation, splices).
Seeds are small, named for their content, and cover the formats and the documented corner
cases of each reader. Run from anywhere (paths are relative to this file):

    python tests/fuzz/make_corpus.py

Requires Pillow. The images derive from tests/data/camera_32.png; the text seeds are written
out literally below. Rerunning rewrites every seed; new seeds may be added by hand too.
"""

import io
import shutil
import struct
import zlib
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data"
CORPUS = HERE / "corpus"


def write(target, name, data):
    path = CORPUS / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def encoded(img, fmt, **kw):
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def images():
    for name in [
        "camera_32.png",
        "camera_32_rgb.png",
        "camera_32_truncated.png",
        "camera_32_corrupt.png",
        "dot_at_1_2.png",
        "black_8x8.png",
        "black_dot_on_white_at_1_2.png",
        "not_an_image.pdf",
    ]:
        shutil.copy(DATA / name, CORPUS / "image" / name)
    gray = Image.open(DATA / "camera_32.png").convert("L").resize((8, 6))
    rgb = Image.merge("RGB", (gray, gray.transpose(Image.FLIP_LEFT_RIGHT), gray.rotate(180)))
    rgba = rgb.copy()
    rgba.putalpha(gray.transpose(Image.FLIP_TOP_BOTTOM))
    la = gray.copy().convert("LA")
    la.putalpha(gray.rotate(180))
    gray16 = Image.frombytes("I;16", gray.size, bytes(b for v in gray.tobytes() for b in (v, v)))
    write("image", "camera_8x6_gray.png", encoded(gray, "PNG"))
    write("image", "camera_8x6_gray16.png", encoded(gray16, "PNG"))
    write("image", "camera_8x6_gray_alpha.png", encoded(la, "PNG"))
    write("image", "camera_8x6_rgba.png", encoded(rgba, "PNG"))
    write("image", "camera_8x6_interlaced.png", encoded(rgb, "PNG", interlace=1))
    write("image", "camera_8x6_palette.png", encoded(rgb.quantize(16), "PNG"))
    write("image", "camera_8x6_1bit.png", encoded(gray.convert("1"), "PNG"))
    write("image", "camera_8x6.gif", encoded(rgb.quantize(16), "GIF"))
    write("image", "camera_8x6.bmp", encoded(rgb, "BMP"))
    write("image", "camera_8x6_rgba.tiff", encoded(rgba, "TIFF"))
    write("image", "camera_8x6_gray16.tiff", encoded(gray16, "TIFF"))
    write("image", "camera_8x6.jpg", encoded(rgb, "JPEG", quality=90))
    write("image", "camera_8x6.pgm", encoded(gray, "PPM"))
    write("image", "camera_8x6.ppm", encoded(rgb, "PPM"))
    write("image", "camera_8x6_rgba.qoi", encoded(rgba, "QOI"))
    write("image", "camera_8x6_rgba.tga", encoded(rgba, "TGA"))
    write("image", "camera_8x6_lossless.webp", encoded(rgba, "WEBP", lossless=True))
    write("image", "camera_8x6.ico", encoded(rgba, "ICO", sizes=[(8, 6)]))
    # A valid PNG whose header claims 100000 x 100000 pixels: refused before decoding.
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 9)
    bomb = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
    write("image", "claims_100000x100000.png", bomb + png_chunk(b"IEND", b""))


def matrices():
    for name in ["dot_2x3.csv", "nan.csv", "negative.csv", "ragged.csv", "words.csv"]:
        shutil.copy(DATA / name, CORPUS / "matrix" / name)
    write("matrix", "one_cell.csv", "7\n")
    write("matrix", "zeros.csv", "0,0\n0,0\n")
    write("matrix", "bom_crlf.csv", "\ufeff1,2\r\n3,4\r\n")
    write("matrix", "comments_and_blank_lines.csv", "# grid\n\n1,2,3\n# middle\n4,5,6\n\n")
    write("matrix", "semicolons.csv", "0.5;1e-3;2\n3;0;4E2\n")
    write("matrix", "tabs.tsv", "1\t0\t0\n0\t0\t1\n")
    write("matrix", "spaces.txt", "  1   2\n3 4  \n")
    write("matrix", "huge_values.csv", "1e308,1e308\n1.7976931348623157e308,0\n")
    write("matrix", "tiny_values.csv", "5e-324,0\n0,1e-310\n")
    write("matrix", "ties.csv", "1,1,1\n1,1,1\n")
    write("matrix", "inf.csv", "1,inf\n")
    write("matrix", "not_utf8.csv", b"1,2\n\xff\xfe,3\n")
    rows = Image.open(DATA / "camera_32.png").convert("L").resize((6, 5)).tobytes()
    grid = [rows[i * 6 : (i + 1) * 6] for i in range(5)]
    write("matrix", "camera_6x5.csv", "".join(",".join(map(str, r)) + "\n" for r in grid))


def manifests():
    write("manifest", "pairs.csv", "x.png,y.png\ny.png,z.png\n")
    write("manifest", "pairs_with_ids.csv", "x.png,y.png,first\ny.png,z.png,second\n")
    write("manifest", "header_any_order.csv", "id,b,extra,a\nk,y.png,?,x.png\n")
    write("manifest", "quoted.csv", 'a,b\n"x,1.png","y ""2"".png"\n')
    write("manifest", "pairs.tsv", "a\tb\tid\nx.png\ty.png\tk\n")
    write("manifest", "pairs.jsonl", '{"a":"x","b":"y"}\n{"a":"y","b":"x","id":7}\n{"a":"z","b":"x","id":null}\n')
    write("manifest", "bom_crlf.csv", "\ufeffa,b\r\nx.png,y.png\r\n")
    write("manifest", "comments_and_blank_lines.csv", "# pairs\n\nx.png,y.png\n  # indented\ny.png,z.png\n")
    write("manifest", "quote_across_lines.csv", 'x,y\n"a\nb",c\n')
    write("manifest", "unterminated_quote.csv", 'x,y\n"a,b\n')
    write("manifest", "repeated_id.csv", "x,y,k\nz,w,k\n")
    write("manifest", "repeated_pair.csv", "x,y\nx,y\n")
    write("manifest", "too_few_fields.csv", "x,y\nz\n")
    write("manifest", "jsonl_missing_b.jsonl", '{"a":"x"}\n')
    write("manifest", "jsonl_bad_id.jsonl", '{"a":"x","b":"y","id":1.5}\n{"a":"x","b":"y","id":[]}\n')
    write("manifest", "unicode.csv", "ü.png,日本.png\n")


def skip_files():
    # Records as batch mode writes them, for the pairs of the skip-done target (inputs a, b, c).
    def record(a, b, status, tv):
        rid = f"{a}|{b}"
        if status != "ok":
            return f'{{"id":"{rid}","status":"error","error":"{a}: cannot read"}}'
        return (
            f'{{"id":"{rid}","status":"ok","version":"0.1.0","metrics":{{"tv":{tv}}},"pass":true}}'
        )

    ok = record("a.csv", "b.csv", "ok", '{"value":0.5,"finite":true,"params":{},"details":{},"pass":true}')
    inf = record("a.csv", "c.csv", "ok", '{"value":null,"finite":false,"value_text":"inf","pass":true}')
    err = record("b.csv", "c.csv", "error", None)
    write("skip", "ok_inf_error.jsonl", "\n".join([ok, inf, err]) + "\n")
    write("skip", "cut_last_line.jsonl", ok + "\n" + inf[: len(inf) // 2])
    cut = ('{"id":"a.csv|ü.csv","status":"ok"}\n').encode()
    write("skip", "cut_inside_a_character.jsonl", ok.encode() + b"\n" + cut[: cut.index("ü".encode()) + 1])
    write("skip", "crlf_and_blank_lines.jsonl", ok + "\r\n\r\n" + inf + "\r\n")
    write("skip", "not_json.jsonl", "id,status\na.csv|b.csv,ok\n")
    write("skip", "wrong_types.jsonl", '{"id":1,"status":"ok"}\n{"id":"a.csv|b.csv","status":true}\n[1,2]\n')
    write("skip", "duplicate_keys.jsonl", '{"id":"a.csv|b.csv","id":"b.csv|c.csv","status":"ok"}\n')
    write("skip", "empty.jsonl", "")


if __name__ == "__main__":
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    for target in ["image", "matrix", "manifest", "skip"]:
        (CORPUS / target).mkdir(parents=True)
    images()
    matrices()
    manifests()
    skip_files()
    files = [p for p in CORPUS.rglob("*") if p.is_file()]
    print(f"{len(files)} files, {sum(p.stat().st_size for p in files)} bytes")
