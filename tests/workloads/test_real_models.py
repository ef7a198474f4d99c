"""The real models from packages: the PP-OCR direction classifier converted ONNX → PyTorch agrees with
onnxruntime; MiniLM-L6's tokenizer and embeddings behave as BERT's and sentence-transformers' do."""
import numpy as np
import pytest
import torch

from workloads import pretrained
from workloads.errors import WorkloadError
from workloads.realdata import cls_preprocess, debian_descriptions, text_lines


@pytest.fixture(scope="module")
def lines():
    return text_lines(24, seed=5)


def test_converted_classifier_agrees_with_onnxruntime(lines):
    import onnxruntime as ort

    x, y = lines
    sess = ort.InferenceSession(str(pretrained.ppocr_cls_path()), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"x": x})[0]
    with torch.no_grad():
        ours = pretrained.ppocr_cls()(torch.from_numpy(x)).numpy()
    assert ours.shape == ref.shape == (24, 2)
    np.testing.assert_allclose(ours, ref, atol=2e-5)
    assert (ours.argmax(1) == y).mean() >= 0.9  # the classifier reads rendered lines' orientation


def test_converted_classifier_is_a_layer_graph_with_folded_biases():
    import operator

    from workloads.extract import extract_graph

    gm = pretrained.ppocr_cls()
    g = extract_graph(gm, (3, 48, 192), method="fx")
    ops = [d["op"] for d in g.compute_layers()]
    assert ops.count("conv") == 53 and ops.count("linear") == 1
    adds = [n for n in gm.graph.nodes if n.op == "call_function" and n.target is operator.add]
    assert len(adds) == 7  # of the ONNX graph's 44 Adds: 18 SE biases went into convs, 18 into hard-swish, 1 FC


def test_converter_names_an_unsupported_op():
    import onnx
    from onnx import TensorProto, helper

    from workloads.onnx_torch import onnx_to_torch

    node = helper.make_node("Erf", ["x"], ["y"], name="erf0")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    with pytest.raises(WorkloadError, match="erf0.*Erf"):
        onnx_to_torch(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]))
    assert isinstance(onnx, object)


def test_preprocess_pads_on_the_right_and_scales_to_unit_range():
    img = np.full((24, 48, 3), 255, np.uint8)  # 2:1 → width 96 of 192
    x = cls_preprocess(img)
    assert x.shape == (3, 48, 192)
    assert np.allclose(x[:, :, :96], 1.0) and np.allclose(x[:, :, 96:], 0.0)


def test_debian_descriptions_parse_short_and_long(tmp_path):
    status = tmp_path / "status"
    status.write_text("Package: a\nStatus: install ok installed\nDescription: the short one\n first line of\n"
                      " .\n the long text here ok\n\nPackage: b\nDescription: no long part\n\n"
                      "Package: c\nDescription: same long\n first line of\n .\n the long text here ok\n")
    d = debian_descriptions(status, min_long_words=3)
    assert [(e.package, e.short, e.long) for e in d] == [("a", "the short one", "first line of the long text here ok")]
    with pytest.raises(WorkloadError, match="missing"):
        debian_descriptions(tmp_path / "nope")


@pytest.fixture(scope="module")
def mini():
    return pretrained.minilm()


def test_wordpiece_gives_bert_uncased_ids(mini):
    assert mini.tok.encode("Hello world!") == [101, 7592, 2088, 999, 102]
    assert mini.tok.encode("Unaffable") == [101, 14477, 20961, 3468, 102]  # un ##aff ##able
    assert mini.tok.encode("Café") == mini.tok.encode("cafe")  # accents stripped, lower case


def test_minilm_embeddings(mini):
    texts = ["A cat sits on the mat.", "A cat sits on the mat.", "The kitten is sitting on a rug.",
             "Quarterly tax filing deadlines for corporations."]
    e = mini.embed_texts(texts)
    assert e.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert float(e[0] @ e[1]) == pytest.approx(1.0, abs=1e-6)  # identical text, identical embedding
    assert float(e[0] @ e[2]) > float(e[0] @ e[3]) + 0.2  # a paraphrase is nearer than an unrelated text
    # batching with padding changes nothing: the mask hides the pads
    alone = mini.embed_texts([texts[3]])
    np.testing.assert_allclose(alone[0], e[3], atol=1e-5)


def test_minilm_mean_pooling_matches_a_reference(mini):
    """Mean pooling over real tokens, L2-normalised, recomputed here in NumPy from the encoder's outputs."""
    from workloads.minilm import set_mask

    texts = ["short one", "a somewhat longer sentence with more tokens in it"]
    ids, mask = mini.tokenize(texts)
    set_mask(mini.encoder, mask)
    with torch.no_grad():
        h = mini.encoder(mini.embed(ids)).numpy()
    ref = []
    for r in range(2):
        n = int(mask[r].sum())
        v = h[r, :n].mean(0)
        ref.append(v / np.linalg.norm(v))
    np.testing.assert_allclose(mini.embed_texts(texts), np.array(ref), atol=1e-5)
