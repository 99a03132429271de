"""The parameter grammar: a chapter's ``parameters`` cell read as typed, ranged, documented
parameters, and values checked against it before anything runs.

A chapter (a jupytext MyST notebook, ``notebooks/NN_name.md``) is a function of its
``parameters`` cell. One line per parameter, typed and commented, as papermill reads it
(``--help-notebook``)::

    quick: bool = False  # shrink every computation (tests, a first read)
    seed: int = 0  # in [0, inf): one seed for every random draw
    n_dims: int = 8  # in [2, 64]: dimension of the synthetic activations
    kind: str = "relu"  # in {"relu", "topk"}: which sparse autoencoder

- The annotation is the type: ``bool``, ``int``, ``float``, ``str`` or ``list[T]`` of one of
  these. Without one, the type of the default is used. An ``int`` is accepted for a ``float``;
  ``None`` only where the default is ``None``.
- The comment is the help. It may start with a range and a colon: ``in [a, b]`` (closed),
  ``in (a, b)`` (open), ``in [a, b)`` or ``in (a, b]`` (half-open), with ``inf``/``-inf`` for
  no bound, or ``in {v1, v2}`` (Python literals) for a choice. A list's range applies to each
  element.
  A range says which values the chapter is written for; its assertions still test its claims
  at every value, and a run where one fails is recorded as failed.
- No second ``=`` on the line (not even ``>=`` in the comment): papermill skips such lines, and
  :func:`load_chapter` refuses a chapter where it would.

Values written as text (``-p NAME VALUE`` on the command line, a ``--params`` file, a sweep's
grid file) are read as YAML with the YAML 1.2 core schema's plain scalars, not YAML 1.1's
(:func:`load_yaml`): a bool is ``true`` or ``false`` (also ``True``, ``TRUE``, ``False``,
``FALSE``); an int is decimal digits with an optional sign (``8``, ``+8``, ``-3``; not ``010``,
``0x10``, ``0o17`` or ``1_000``); a float has a point or an exponent (``0.5``, ``1e-3``,
``.5``, ``-2.5E+3``); ``null``, ``~`` or nothing is ``None``. Anything else (``yes``, ``no``,
``on``, ``off``, ``0x10``, ``1_000``, ``2024-01-01``) is a string, which a bool, int or float
parameter refuses with a message naming it, instead of reading it as a value the user may not
have meant. A chapter parameter is never a date, and YAML tags that build Python objects are
refused.

Values are checked against the cell before anything runs (:func:`validate_parameters`): unknown
names, wrong types and values out of range raise ``ValueError``/``TypeError`` listing the valid
parameters.
"""

from __future__ import annotations

import ast
import math
import numbers
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._validation import in_interval, interval_text

__all__ = ["Chapter", "Parameter", "chapter_parameters", "load_chapter", "load_yaml",
           "resolve_chapter", "validate_parameters"]

_SCALARS = {"bool": bool, "int": int, "float": float, "str": str}
#: The book's chapters, beside the srmlib package in a checkout.
CHAPTERS = Path(__file__).resolve().parents[2] / "notebooks"


@dataclass(frozen=True)
class Parameter:
    """One parameter of a chapter, read from its ``parameters`` cell.

    Attributes
    ----------
    name, type, default, help
        ``type`` is ``"bool"``, ``"int"``, ``"float"``, ``"str"``, ``"list[T]"`` or ``None``
        (unchecked: no annotation and a default that is not a literal).
    low, high : float or None
        Range bounds; ``low_open``/``high_open`` tell whether they are excluded.
    choices : tuple or None
        The allowed values, from ``in {...}``.
    """

    name: str
    type: str | None
    default: Any
    help: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None

    def describe(self) -> str:
        """``name (type, range)``: the short form used in error messages."""
        details = [self.type or "any"]
        if self.range_text():
            details.append(self.range_text())
        return f"{self.name} ({', '.join(details)})"

    def range_text(self) -> str:
        """``in [a, b)`` or ``in {v1, v2}`` as the parameters cell writes it; ``""`` if
        unbounded."""
        if self.choices is not None:
            return "in {" + ", ".join(repr(c) for c in self.choices) + "}"
        if self.low is None and self.high is None:
            return ""
        return "in " + interval_text(self.low, self.high, low_open=self.low_open,
                                     high_open=self.high_open)

    def check(self, value):
        """``value`` converted to this parameter's type; ``TypeError`` or ``ValueError`` if it
        does not fit."""
        if value is None and self.default is None:
            return None
        if self.type is None:
            return value
        if self.type.startswith("list["):
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"parameter {self.name} must be a {self.type}, got "
                                f"{type(value).__name__} {value!r}")
            return [self._check_scalar(v, self.type[5:-1]) for v in value]
        return self._check_scalar(value, self.type)

    def _check_scalar(self, value, kind: str):
        ok = {"bool": isinstance(value, bool),
              "int": isinstance(value, numbers.Integral) and not isinstance(value, bool),
              "float": isinstance(value, numbers.Real) and not isinstance(value, bool),
              "str": isinstance(value, str)}[kind]
        if not ok:
            hint = {"bool": "true or false", "int": "decimal digits, like 16 or -3",
                    "float": "a number like 0.5 or 1e-3"}.get(kind)
            hint = f" (write {hint})" if hint and isinstance(value, str) else ""
            raise TypeError(f"parameter {self.name} must be {kind}, got {type(value).__name__} "
                            f"{value!r}{hint}")
        value = _SCALARS[kind](value)
        if kind == "float" and math.isnan(value):
            raise ValueError(f"parameter {self.name} must not be NaN")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"parameter {self.name} must be {self.range_text()}, got {value!r}")
        if kind in ("int", "float") and not in_interval(
                value, self.low, self.high, low_open=self.low_open, high_open=self.high_open):
            raise ValueError(f"parameter {self.name} must be {self.range_text()}, got {value!r}")
        return value


@dataclass(frozen=True)
class Chapter:
    """A chapter source and its parameters, ready to run.

    Attributes
    ----------
    path : Path
        The jupytext ``.md`` (or ``.ipynb``) source.
    name : str
        Its stem, e.g. ``"01_spotlight_resonance"``.
    notebook_json : str
        The notebook, converted to ``.ipynb`` JSON.
    parameters : dict of str to Parameter
        In the order of the ``parameters`` cell.
    """

    path: Path
    name: str
    notebook_json: str = field(repr=False)
    parameters: dict[str, Parameter] = field(repr=False)

    def usage(self) -> str:
        """One line listing the valid parameters."""
        listed = ", ".join(p.describe() for p in self.parameters.values())
        return f"valid parameters of {self.name}: {listed or '(none)'}"


def resolve_chapter(chapter) -> Path:
    """The source file of ``chapter``: a path, or a short name like ``"01"`` or
    ``"01_spotlight_resonance"`` looked up in ``notebooks/`` (of the working directory, then of
    the srmlib checkout)."""
    if isinstance(chapter, Chapter):
        return chapter.path
    if not isinstance(chapter, (str, os.PathLike)):
        raise TypeError(f"chapter must be a path or a name like '01', got {type(chapter).__name__}")
    path = Path(chapter)
    if path.is_file():
        return path.resolve()
    text = str(chapter)
    if os.sep in text or path.suffix in (".md", ".ipynb"):
        raise ValueError(f"chapter {text!r}: no such file")
    folders = [Path.cwd() / "notebooks", CHAPTERS]
    for folder in dict.fromkeys(f.resolve() for f in folders if f.is_dir()):
        found = sorted(p for p in folder.glob("*.md")
                       if p.stem == text or p.stem.split("_", 1)[0] == text)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ValueError(f"chapter {text!r} is ambiguous: {', '.join(p.stem for p in found)}")
    available = sorted(p.stem for f in folders if f.is_dir() for p in f.glob("*.md"))
    raise ValueError(f"chapter {text!r} not found; chapters: {', '.join(available) or '(none)'}")


_YAML_LOADER = None


def _yaml_loader():
    """A safe YAML loader whose plain scalars follow the YAML 1.2 core schema (see the module
    docstring): PyYAML's own follow YAML 1.1, where ``yes`` is true and ``010`` is 8."""
    global _YAML_LOADER
    if _YAML_LOADER is None:
        import yaml

        class Loader(yaml.SafeLoader):
            pass

        Loader.yaml_implicit_resolvers = {
            first: [(tag, regexp) for tag, regexp in resolvers
                    if tag.rsplit(":", 1)[-1] not in ("bool", "int", "float", "timestamp")]
            for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
        exponent = r"[eE][-+]?[0-9]+"
        core = {
            "bool": (r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
            "int": (r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
            "float": (rf"^[-+]?(?:\.[0-9]+(?:{exponent})?|[0-9]+\.[0-9]*(?:{exponent})?"
                      rf"|[0-9]+{exponent}|\.(?:inf|Inf|INF))$|^\.(?:nan|NaN|NAN)$",
                      "-+.0123456789"),
        }
        for kind, (pattern, first) in core.items():
            Loader.add_implicit_resolver(f"tag:yaml.org,2002:{kind}", re.compile(pattern),
                                         list(first))
        _YAML_LOADER = Loader
    return _YAML_LOADER


def load_yaml(text: str, where: str = "the value"):
    """``text`` read as YAML with the YAML 1.2 core schema's plain scalars (see the module
    docstring); ``ValueError`` naming ``where`` for malformed YAML or an unsafe tag."""
    import yaml

    if not isinstance(text, str):
        raise TypeError(f"{where} must be text, got {type(text).__name__}")
    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as err:
        detail = " ".join(str(err).split())
        raise ValueError(f"{where} is not valid YAML (or uses a tag srmlib does not read): "
                         f"{detail}") from None


def read_yaml_file(path, what: str = "file"):
    """The YAML file ``path`` read by :func:`load_yaml`; ``ValueError`` naming the file when it
    cannot be read, is not UTF-8 text, or is not valid YAML."""
    return load_yaml(read_text_file(path, what), f"{what} {path}")


def read_text_file(path, what: str = "file") -> str:
    """The UTF-8 text of ``path``; ``ValueError`` naming the file when it cannot be read or is
    not text (a binary file)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{what} {path} is not UTF-8 text (byte {err.start}: "
                         f"{err.reason}); is it a binary file?") from None
    except OSError as err:
        raise ValueError(f"{what} {path}: {err.strerror or err}") from None


def load_chapter(chapter) -> Chapter:
    """Read a chapter (path or short name) and its ``parameters`` cell (see the module
    docstring)."""
    if isinstance(chapter, Chapter):
        return chapter
    import jupytext
    import nbformat
    from papermill.inspection import inspect_notebook

    path = resolve_chapter(chapter)
    source = read_text_file(path, "chapter")
    try:
        notebook = jupytext.reads(source, fmt=path.suffix.lstrip(".") or "md")
    except Exception as err:  # not a notebook jupytext can read
        raise ValueError(f"chapter {path} cannot be read as a notebook "
                         f"({type(err).__name__}: {err})") from None
    text = nbformat.writes(notebook)
    with tempfile.TemporaryDirectory() as tmp:
        ipynb = Path(tmp) / "chapter.ipynb"
        ipynb.write_text(text)
        inferred = inspect_notebook(ipynb)
    assigned = _assigned_names(notebook)
    unread = [name for name in assigned if name not in inferred]
    if unread:
        raise ValueError(f"chapter {path.stem}: papermill cannot read parameter(s) "
                         f"{', '.join(unread)} (one assignment per line and no other '=' on it)")
    parameters = {name: _parse_parameter(path.stem, info) for name, info in inferred.items()}
    return Chapter(path, path.stem, text, parameters)


def chapter_parameters(chapter) -> dict[str, Parameter]:
    """The parameters of a chapter (path or short name), in the order of its ``parameters`` cell."""
    return load_chapter(chapter).parameters


def validate_parameters(chapter, parameters: Mapping | None) -> dict[str, Any]:
    """Check ``parameters`` against the chapter's ``parameters`` cell, before anything runs.

    Returns
    -------
    dict
        The given parameters in the chapter's order, converted to their types.

    Raises
    ------
    ValueError
        For an unknown name or a value out of range; the message lists the valid parameters.
    TypeError
        For a value of the wrong type.
    """
    chapter = load_chapter(chapter)
    parameters = dict(parameters or {})
    unknown = [name for name in parameters if name not in chapter.parameters]
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(map(repr, unknown))}; {chapter.usage()}")
    checked = {}
    for name, param in chapter.parameters.items():
        if name in parameters:
            try:
                checked[name] = param.check(parameters[name])
            except (TypeError, ValueError) as err:
                raise type(err)(f"{err}; {chapter.usage()}") from None
    return checked


def _assigned_names(notebook) -> list[str]:
    for cell in notebook.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse(cell.source)
            names = []
            for node in tree.body:
                targets = (node.targets if isinstance(node, ast.Assign)
                           else [node.target] if isinstance(node, ast.AnnAssign) else [])
                names += [t.id for t in targets if isinstance(t, ast.Name)]
            return names
    return []


def _parse_parameter(chapter: str, info: Mapping) -> Parameter:
    name, help_text = info["name"], info["help"]
    try:
        default = ast.literal_eval(info["default"])
    except (ValueError, SyntaxError):
        default = info["default"]
    kind = info["inferred_type_name"]
    if kind == "None":
        kind = type(default).__name__ if isinstance(default, (bool, int, float, str)) else None
    else:
        kind = re.sub(r"\s+", "", kind)
        inner = kind[5:-1] if kind.startswith("list[") and kind.endswith("]") else kind
        if inner not in _SCALARS:
            raise ValueError(f"chapter {chapter}: parameter {name} has type {kind!r}; use bool, "
                             f"int, float, str or list[...] of these")
    bounds: dict[str, Any] = {}
    match = re.match(r"in\s+([\[({].*?[\])}])\s*:\s*(.*)$", help_text, re.DOTALL)
    if match:
        bounds = _parse_range(chapter, name, match.group(1))
        help_text = match.group(2)
    param = Parameter(name, kind, default, help_text, **bounds)
    if default is not None and kind is not None:
        try:
            param.check(default)
        except (TypeError, ValueError) as err:
            raise ValueError(f"chapter {chapter}: the default of {name} does not fit its type "
                             f"or range ({err})") from None
    return param


def _parse_range(chapter: str, name: str, text: str) -> dict[str, Any]:
    if text.startswith("{"):
        try:
            choices = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"chapter {chapter}: cannot read the choices {text} of "
                             f"{name}") from None
        return {"choices": tuple(sorted(choices, key=repr))}
    match = re.fullmatch(r"([\[(])\s*([^,]+?)\s*,\s*([^,]+?)\s*([\])])", text)
    try:
        low, high = (float(v) for v in match.group(2, 3))
    except (AttributeError, ValueError):
        raise ValueError(f"chapter {chapter}: cannot read the range {text} of {name}; write it "
                         f"like [1, inf) or (0, 1]") from None
    return {"low": None if math.isinf(low) else low, "high": None if math.isinf(high) else high,
            "low_open": match.group(1) == "(", "high_open": match.group(4) == ")"}
