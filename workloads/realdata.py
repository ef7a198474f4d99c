"""Real data that a Debian machine already has, for the real-model accuracy harness (nothing downloaded):

- English text: the package descriptions in ``/var/lib/dpkg/status`` (present on every Debian/Ubuntu system;
  the installed packages differ between machines, so the count is reported with every result). A package's
  short description (the ``Description:`` line) is a query, its long description (the indented lines after
  it) the document it should retrieve. Descriptions shared by several packages are kept once.
- Text-line images: those short descriptions rendered with the DejaVu TrueType fonts (Debian
  ``fonts-dejavu-core``), cut to a few words, in the PP-OCR direction classifier's input format
  (3 × 48 × 192, RGB scaled to [−1, 1], right-padded with 0). Label 0 = upright, 1 = rotated by 180°.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workloads.errors import WorkloadError

DPKG_STATUS = Path(os.environ.get("DPKG_STATUS", "/var/lib/dpkg/status"))
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)
FONT_HINT = "install the Debian package fonts-dejavu-core (apt-get install fonts-dejavu-core; `make test` does)"
CLS_SHAPE = (3, 48, 192)  # rapidocr's cls_image_shape


@dataclass(frozen=True)
class Description:
    package: str
    short: str
    long: str


def debian_descriptions(path: Path | None = None, min_long_words: int = 8) -> list[Description]:
    """Every installed package's (short, long) description with a long part of ≥ ``min_long_words`` words,
    one per distinct long text, sorted by package name (deterministic for a given status file)."""
    path = Path(path or DPKG_STATUS)
    if not path.exists():
        raise WorkloadError(f"{path} is missing: the MiniLM retrieval set is read from dpkg's status file "
                            "(a Debian/Ubuntu system)")
    out, seen = [], set()
    for para in path.read_text(encoding="utf-8", errors="replace").split("\n\n"):
        pkg, short, long_lines, in_desc = None, None, [], False
        for line in para.split("\n"):
            if line.startswith("Package:"):
                pkg = line.split(":", 1)[1].strip()
                in_desc = False
            elif line.startswith("Description:"):
                short, in_desc = line.split(":", 1)[1].strip(), True
            elif in_desc and line.startswith(" "):
                s = line.strip()
                if s != ".":
                    long_lines.append(s)
            else:
                in_desc = False
        text = " ".join(long_lines)
        if pkg and short and len(text.split()) >= min_long_words and text not in seen:
            seen.add(text)
            out.append(Description(pkg, short, text))
    return sorted(out, key=lambda d: d.package)


def fonts() -> list[Path]:
    found = sorted(p for d in FONT_DIRS if d.is_dir() for p in d.glob("DejaVu*.ttf"))
    if not found:
        raise WorkloadError(f"no DejaVu fonts under {', '.join(map(str, FONT_DIRS))}: {FONT_HINT}")
    return found


def _render(text: str, font_path: Path, size: int, rng) -> np.ndarray:
    """One text line as a uint8 RGB image (h × w × 3), dark text on a light background with a little noise."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), size)
    x0, y0, x1, y1 = font.getbbox(text)
    pad = int(rng.integers(2, 8))
    w, h = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
    bg = tuple(int(v) for v in rng.integers(180, 256, 3))
    fg = tuple(int(v) for v in rng.integers(0, 90, 3))
    img = Image.new("RGB", (max(w, 1), max(h, 1)), bg)
    ImageDraw.Draw(img).text((pad - x0, pad - y0), text, font=font, fill=fg)
    a = np.asarray(img, np.float32) + rng.normal(0, 6, (h, w, 3))
    return np.clip(a, 0, 255).astype(np.uint8)


def cls_preprocess(img: np.ndarray) -> np.ndarray:
    """rapidocr's ``TextClassifier.resize_norm_img``: height 48, width ⌈48·w/h⌉ ≤ 192 (bilinear), /255,
    (x − 0.5)/0.5, zero right padding to 192."""
    from PIL import Image

    c, H, W = CLS_SHAPE
    h, w = img.shape[:2]
    rw = min(W, int(np.ceil(H * w / float(h))))
    resized = np.asarray(Image.fromarray(img).resize((rw, H), Image.BILINEAR), np.float32)
    out = np.zeros(CLS_SHAPE, np.float32)
    out[:, :, :rw] = (resized.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return out


def text_lines(n: int, seed: int, texts: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rendered text lines (n × 3 × 48 × 192 float32) and labels (0 upright, 1 rotated 180°), half
    each. Text: 2–6 consecutive words of a package's short description; font, size and colours at random."""
    rng = np.random.default_rng(seed)
    texts = texts if texts is not None else [d.short for d in debian_descriptions(min_long_words=0)]
    texts = [t for t in texts if len(t.split()) >= 2]
    if not texts:
        raise WorkloadError("text_lines: no text to render")
    fl = fonts()
    x = np.empty((n, *CLS_SHAPE), np.float32)
    y = (np.arange(n) % 2).astype(np.int64)
    rng.shuffle(y)
    for i in range(n):
        words = texts[int(rng.integers(len(texts)))].split()
        k = int(rng.integers(2, 7))
        s = int(rng.integers(0, max(len(words) - k, 0) + 1))
        img = _render(" ".join(words[s:s + k]), fl[int(rng.integers(len(fl)))], int(rng.integers(18, 40)), rng)
        if y[i]:
            img = img[::-1, ::-1]
        x[i] = cls_preprocess(np.ascontiguousarray(img))
    return x, y
