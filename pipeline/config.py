"""Run configuration: shipped defaults, a user file on top, then command-line overrides.

The defaults file (`default_config.yaml`) is the reference for every key and its type:
a user file may only change keys that exist there, with values of the same type.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import UserError


def default_config() -> dict[str, Any]:
    text = resources.files("pipeline").joinpath("default_config.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict:
    """Merge the defaults, an optional YAML file and dotted-key overrides, and check types."""
    config = default_config()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"config file not found: {path}")
        try:
            user = yaml.safe_load(path.read_text("utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise UserError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}")
        if not isinstance(user, dict):
            raise UserError(f"config file {path} must hold a mapping of keys, not {type(user).__name__}")
        _merge_checked(config, user, prefix="")
    for dotted, value in (overrides or {}).items():
        *parents, leaf = dotted.split(".")
        nested: dict = {leaf: value}
        for key in reversed(parents):
            nested = {key: nested}
        _merge_checked(config, nested, prefix="")
    _check_values(config)
    return config


def with_defaults(settings: dict | None, defaults: dict, section: str) -> dict:
    """A component's settings over its defaults, refusing names the component does not know
    (a typo would otherwise be ignored silently)."""
    unknown = sorted(set(settings or {}) - set(defaults))
    if unknown:
        raise UserError(f"unknown {section} setting {', '.join(unknown)} (known: {', '.join(defaults)})")
    return {**defaults, **(settings or {})}


def _merge_checked(base: dict, update: dict, prefix: str) -> None:
    for key, value in update.items():
        where = f"{prefix}{key}"
        if key not in base:
            known = ", ".join(sorted(base))
            raise UserError(f"config: unknown key '{where}' (known here: {known})")
        current = base[key]
        if isinstance(current, dict) and current:
            if not isinstance(value, dict):
                raise UserError(f"config: '{where}' must be a mapping")
            _merge_checked(current, value, prefix=f"{where}.")
        elif current is None or value is None or _same_type(current, value):
            base[key] = copy.deepcopy(value)
        else:
            raise UserError(
                f"config: '{where}' must be {type(current).__name__}, got {value!r}"
            )


def _same_type(reference: Any, value: Any) -> bool:
    if isinstance(reference, bool) or isinstance(value, bool):
        return isinstance(reference, bool) and isinstance(value, bool)
    if isinstance(reference, (int, float)) and isinstance(value, (int, float)):
        return True
    return isinstance(value, type(reference))


def _check_values(config: dict) -> None:
    from pipeline.registry import readers, stages

    if config["profile"] not in ("auto", "accurate", "fast"):
        raise UserError(f"config: profile must be 'auto', 'accurate' or 'fast', got {config['profile']!r}")
    if not isinstance(config["batch_size"], int) or config["batch_size"] < 1:
        raise UserError(f"config: batch_size must be a positive integer, got {config['batch_size']!r}")
    for name in config["stages"]:
        if name not in stages():
            raise UserError(f"config: unknown stage {name!r} (known: {', '.join(stages())})")
    if config["embed"]["backend"] not in ("torch", "onnx"):
        raise UserError(f"config: embed.backend must be 'torch' or 'onnx', got {config['embed']['backend']!r}")
    fmt = config["ingest"]["format"]
    if fmt != "auto" and fmt not in readers():
        raise UserError(f"unknown format {fmt!r} (known: auto, {', '.join(readers())})")
    if not all(isinstance(v, str) for v in config["ingest"]["column_map"].values()):
        raise UserError("config: ingest.column_map values must be source column names")

