"""The encoder on ONNX Runtime: the converted e5 checkpoint exported to ONNX, int8-quantised.

`embed.backend: onnx` runs the same tokenizer and the same model as the torch backend, with
its Linear weights quantised to int8 (dynamic quantisation: weights per output channel,
activations per batch) except each layer's FFN output projection, which stays float32
(`QUANTIZATION`). Set up once, next to the checkpoint:

    diplolens models setup --backend onnx     # needs: pip install -e ".[onnx]"

`setup_onnx` exports the checkpoint with mean pooling and L2 normalisation inside the graph
(`torch.onnx.export`, the TorchScript exporter; eager attention, so that ONNX Runtime's
transformer optimiser fuses attention, GELU and layer norms), quantises it with
`onnxruntime.quantization.quantize_dynamic`, checks its vectors against the torch encoder's
on `CHECK_SENTENCES`, and writes `onnx/model-int8.onnx` with `onnx/export.json` (its sha256
and that of the weights it was exported from, both checked at every load).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import numpy as np

from pipeline.errors import UserError
from pipeline.ingest import sha256_of

ONNX_DIR = "onnx"
ONNX_FILE = "model-int8.onnx"
RECORD_FILE = "export.json"
OPSET = 17
# int8 moves vectors a little (cosine with torch fp32 about 0.999 on real posts); the setup
# check refuses an export that moves them more than this (the conversion's own bar).
MIN_COSINE = 0.99
# Weights per output channel (per tensor loses 10x more); 7-bit range, because CPUs without
# VNNI (AVX2 only) saturate the u8 x s8 products of full-range weights. The FFN output
# projection of each layer (its input: GELU outputs, with outliers that per-batch activation
# scales crush) stays float32: measured on real posts (benchmarks/encoder.py), that keeps the
# cosine with torch at 0.999 instead of 0.996 and halves the topic labels that change, for
# about 15 % of the int8 speed-up.
QUANTIZATION = {"weight_type": "QInt8", "per_channel": True, "reduce_range": True,
                "float32_nodes": r"layer\.\d+/output/dense/MatMul$"}
SETUP = "run `diplolens models setup --backend onnx`"
SETUP_AGAIN = "run `diplolens models setup --backend onnx --force`"


def onnx_file(encoder_path: Path) -> Path:
    return Path(encoder_path) / ONNX_DIR / ONNX_FILE


def require_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise UserError("embed.backend 'onnx' needs ONNX Runtime: pip install -e \".[onnx]\"")
    return onnxruntime


# --- export and quantisation ---------------------------------------------------------------

def export_fp32(encoder_path: Path, target: Path, optimize: bool = True) -> Path:
    """The checkpoint as a float32 ONNX graph: (input_ids, attention_mask) -> unit vectors,
    with ONNX Runtime's transformer fusions when `optimize`."""
    import torch
    from transformers import AutoModel

    require_onnxruntime()
    model = AutoModel.from_pretrained(encoder_path, local_files_only=True, use_safetensors=True,
                                      add_pooling_layer=False, attn_implementation="eager").eval()
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    example = (torch.tensor([[0, 10, 20, 2], [0, 30, 2, 1]]), torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]))
    raw = target.with_suffix(".raw.onnx") if optimize else target
    with torch.inference_mode():
        torch.onnx.export(_pooled(model), example, str(raw), dynamo=False, opset_version=OPSET,
                          input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"},
                                        "embedding": {0: "batch"}})
    if optimize:
        from onnxruntime.transformers import optimizer

        config = model.config
        fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=config.num_attention_heads,
                                         hidden_size=config.hidden_size, opt_level=1, use_gpu=False)
        fused.save_model_to_file(str(target))
        raw.unlink()
    return target


def quantize_int8(source: Path, target: Path, settings: dict | None = None) -> Path:
    """Dynamic int8 quantisation of the MatMul, Attention and Gather weights (`settings`,
    default `QUANTIZATION`), except the nodes named by `float32_nodes` (a regex; "" for none)."""
    import re

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    settings = {**QUANTIZATION, **(settings or {})}
    excluded = []
    if settings["float32_nodes"]:
        graph = onnx.load(str(source), load_external_data=False).graph
        excluded = [node.name for node in graph.node if re.search(settings["float32_nodes"], node.name)]
        if not excluded:  # the exporter named its nodes otherwise: better no export than a silent change
            raise RuntimeError(f"no node of {source.name} matches {settings['float32_nodes']!r}")
    quantize_dynamic(str(source), str(target), weight_type=getattr(QuantType, settings["weight_type"]),
                     per_channel=settings["per_channel"], reduce_range=settings["reduce_range"],
                     nodes_to_exclude=excluded,
                     # the fused operators carry no inferred output types
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return target


def _pooled(model):
    """The checkpoint with e5's pooling: mean over the attention mask, then L2 normalisation."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            return torch.nn.functional.normalize(pooled, dim=-1)

    return Pooled().eval()


def setup_onnx(encoder_path: Path, force: bool = False, progress=print) -> Path:
    """Export, quantise and verify the int8 ONNX encoder next to the checkpoint in
    `encoder_path` (which `setup_encoder` wrote); returns the ONNX file."""
    from pipeline.models.encoder import CHECK_SENTENCES, WEIGHTS_FILE, Encoder

    require_onnxruntime()
    encoder_path = Path(encoder_path)
    target = onnx_file(encoder_path)
    record = target.parent / RECORD_FILE
    if record.is_file() and target.is_file() and not force:
        progress(f"ONNX encoder already set up in {target.parent} (--force to redo)")
        return target
    record.unlink(missing_ok=True)
    progress(f"exporting {encoder_path.name} to ONNX and quantising it to int8 in {target.parent} ...")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as scratch, quiet_exporters():
        fp32 = export_fp32(encoder_path, Path(scratch) / "model-fp32.onnx")
        quantize_int8(fp32, Path(scratch) / ONNX_FILE)
        os.replace(Path(scratch) / ONNX_FILE, target)
    reference = Encoder(encoder_path, backend="torch").encode(list(CHECK_SENTENCES))
    summary = {
        "file": ONNX_FILE,
        "sha256": sha256_of(target),
        "weights_sha256": sha256_of(encoder_path / WEIGHTS_FILE),
        "exported_with": {"torch": metadata.version("torch"), "onnxruntime": metadata.version("onnxruntime"),
                          "opset": OPSET},
        "quantization": QUANTIZATION,
    }
    target.parent.joinpath(RECORD_FILE + ".tmp").write_text(json.dumps(summary), "utf-8")
    os.replace(target.parent / (RECORD_FILE + ".tmp"), record)  # the check below loads through the record
    cosines = np.sum(Encoder(encoder_path, backend="onnx").encode(list(CHECK_SENTENCES)) * reference, axis=1)
    summary.update(check_sentences=len(cosines), cosine_min=round(float(cosines.min()), 5),
                   cosine_mean=round(float(cosines.mean()), 5))
    if summary["cosine_min"] < MIN_COSINE:
        record.unlink()
        raise RuntimeError(f"the int8 ONNX encoder disagrees with torch (cosine {summary['cosine_min']} < {MIN_COSINE})")
    record.write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    progress(f"verified: cosine with the torch encoder min {summary['cosine_min']}, mean {summary['cosine_mean']}")
    return target


@contextmanager
def quiet_exporters():
    """The exporter's and quantiser's advice (tracer warnings, "consider pre-processing") is
    for their developers, not for DiploLens users: the export is checked below instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def export_record(encoder_path: Path) -> dict:
    """What `setup_onnx` recorded (onnx/export.json); a UserError when it is not set up."""
    require_onnxruntime()
    folder = onnx_file(encoder_path).parent
    if not onnx_file(encoder_path).is_file() or not (folder / RECORD_FILE).is_file():
        raise UserError(f"no ONNX encoder in {folder}: {SETUP}")
    return json.loads((folder / RECORD_FILE).read_text("utf-8"))


# --- inference ------------------------------------------------------------------------------

class OnnxForward:
    """(input_ids, attention_mask) -> unit vectors, on an ONNX Runtime CPU session."""

    def __init__(self, encoder_path: Path, threads: int = 0, path: Path | None = None):
        ort = require_onnxruntime()
        self.path = Path(path) if path else onnx_file(encoder_path)
        self.sha256 = self._checked_sha256(Path(encoder_path)) if path is None else sha256_of(self.path)
        options = ort.SessionOptions()
        # 0 = ONNX Runtime's default (all cores); worker processes get OMP_NUM_THREADS, as torch.
        options.intra_op_num_threads = threads or int(os.environ.get("OMP_NUM_THREADS") or 0)
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.dimension = self.session.get_outputs()[0].shape[-1]
        self.library = f"onnxruntime=={metadata.version('onnxruntime')}"  # as in encoder_identity

    def _checked_sha256(self, encoder_path: Path) -> str:
        """The file's sha256, refusing a file that is not the one setup verified, or one
        exported from other weights than the checkpoint's."""
        from pipeline.models.encoder import WEIGHTS_FILE

        record = export_record(encoder_path)
        digest = sha256_of(self.path)
        if digest != record.get("sha256"):
            raise UserError(f"the ONNX encoder {self.path} changed since setup verified it (sha256 mismatch): "
                            f"{SETUP_AGAIN}")
        conversion = encoder_path / "conversion.json"
        weights = (json.loads(conversion.read_text("utf-8")).get("weights_sha256") if conversion.is_file()
                   else sha256_of(encoder_path / WEIGHTS_FILE))
        if weights != record.get("weights_sha256"):
            raise UserError(f"the ONNX encoder in {self.path.parent} was exported from other weights than "
                            f"{encoder_path}'s: {SETUP_AGAIN}")
        return digest

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input_ids": input_ids.astype(np.int64, copy=False),
                                       "attention_mask": attention_mask.astype(np.int64, copy=False)})[0]
