"""The contract between the compiler and this package, checked from both ends: the compiler's
built-in schema (`triton --dump-builtins=json`) against the Python signatures of
`triton_dsl.layers` and `triton_dsl.functional`.

Generated code passes every attribute by keyword and relies on the defaults matching, so a
renamed attribute, a changed default or a missing function fails here rather than in a
user's model. These tests need the compiler and skip without it (CI builds it first).
"""

from __future__ import annotations

import inspect
import json
import subprocess
from pathlib import Path

import pytest
from test_layers import CASES

from triton_dsl import functional as F
from triton_dsl import layers as L

_MISSING = object()


@pytest.fixture(scope="module")
def schema(triton_compiler: Path) -> dict:
    result = subprocess.run([str(triton_compiler), "--dump-builtins=json"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _same_default(python_default, schema_default) -> bool:
    if isinstance(schema_default, float) or isinstance(python_default, float):
        return (python_default is not None and schema_default is not None
                and abs(float(python_default) - float(schema_default)) < 1e-12)
    return python_default == schema_default and type(python_default) is type(schema_default)


def _check_parameters(owner: str, parameters: list[inspect.Parameter], entries: list[dict]):
    names = [p.name for p in parameters[:len(entries)]]
    assert names == [e["name"] for e in entries], f"{owner}: parameter names differ"
    for parameter, entry in zip(parameters, entries, strict=False):
        has_default = parameter.default is not inspect.Parameter.empty
        assert has_default == (not entry["required"]), f"{owner}.{entry['name']}: required?"
        if has_default:
            assert _same_default(parameter.default, entry.get("default", _MISSING)), (
                f"{owner}.{entry['name']}: default {parameter.default!r} in Python, "
                f"{entry.get('default')!r} in the schema")
    for extra in parameters[len(entries):]:  # Python-only extras must be optional
        assert extra.default is not inspect.Parameter.empty or extra.kind in (
            inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD), (
            f"{owner}: extra parameter `{extra.name}` needs a default")


def test_python_layers_are_exactly_the_schema_layers(schema):
    assert sorted(layer["name"] for layer in schema["layers"]) == sorted(L.BUILTIN_LAYERS)


def test_layer_signatures_match_the_schema(schema):
    for layer in schema["layers"]:
        cls = L.BUILTIN_LAYERS[layer["name"]]
        if layer["container"]:
            assert issubclass(cls, L.Sequential)
            continue
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
        assert len(parameters) == len(layer["attributes"]), f"{layer['name']}: extra arguments"
        _check_parameters(layer["name"], parameters, layer["attributes"])


def test_layers_accept_every_schema_choice(schema):
    for layer in schema["layers"]:
        for attribute in layer["attributes"]:
            for choice in attribute.get("choices", []):
                required, _ = CASES[layer["name"]]
                L.BUILTIN_LAYERS[layer["name"]](**{**required, attribute["name"]: choice})


def test_function_signatures_match_the_schema(schema):
    for function in schema["functions"]:
        if not function["python_name"]:
            continue  # compiled to a Python operator, not a call
        implementation = getattr(F, function["python_name"], None)
        assert implementation is not None, f"no `F.{function['python_name']}`"
        parameters = list(inspect.signature(implementation).parameters.values())
        _check_parameters(function["name"], parameters, function["params"])
