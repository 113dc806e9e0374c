"""Template manifests: the typed variables a template version accepts, and validation of render data
against them with Zod-like messages.

A manifest names each variable by its dotted key path; `[]` marks the items of an array:

    {"fields": {
        "customer.name": {"type": "string"},
        "items":         {"type": "array"},
        "items[].name":  {"type": "string"},
        "items[].qty":   {"type": "integer"},
        "items[].price": {"type": "number"},
        "tags":          {"type": "array", "of": "string", "required": false},
        "total":         {"type": "number"}}}

Types: string, number, integer, boolean, object, array. Every field is required unless it says
`"required": false`; an object or array implied by a deeper path is required when any field under
it is. Errors are keyed by the dotted path of the offending value (`items.0.qty`), all at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from craftkit.errors import InvalidInputData, InvalidTemplate

SCALARS = ("string", "number", "integer", "boolean")
TYPES = (*SCALARS, "object", "array")
_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[\])?$")


@dataclass
class Node:
    type: str
    required: bool = True
    explicit: bool = False
    children: dict[str, Node] = field(default_factory=dict)  # object
    item: Node | None = None  # array


def received(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class Manifest:
    def __init__(self, root: Node) -> None:
        self.root = root

    @classmethod
    def parse(cls, manifest: object) -> Manifest:
        """Compiles a manifest; InvalidTemplate lists every problem by its JSON path."""
        problems: dict[str, list[str]] = {}
        if not isinstance(manifest, dict) or not isinstance(manifest.get("fields"), dict):
            raise InvalidTemplate("manifest must be an object with a `fields` object",
                                  field_errors={"manifest": ["Expected an object with `fields`"]})
        root = Node("object", explicit=True)
        for key, spec in manifest["fields"].items():
            where = f"manifest.fields.{key}"
            error = _add(root, key, spec)
            if error:
                problems.setdefault(where, []).append(error)
        unknown = sorted(set(manifest) - {"fields"})
        if unknown:
            problems["manifest"] = [f"Unrecognized key(s) in object: {_quote(unknown)}"]
        if problems:
            raise InvalidTemplate("the manifest is not valid", field_errors=problems)
        _settle(root)
        return cls(root)

    def validate(self, data: object) -> None:
        """Raises InvalidInputData with every problem in `data`."""
        fields: dict[str, list[str]] = {}
        forms: list[str] = []
        _check(self.root, data, [], fields, forms)
        if fields or forms:
            raise InvalidInputData("data does not match the template version's manifest",
                                   field_errors=fields, form_errors=forms)

    def paths(self) -> set[str]:
        """Every path a layout may reference: `a.b`, and `items[].name` inside arrays."""
        found: set[str] = set()

        def walk(node: Node, prefix: str) -> None:
            for name, child in node.children.items():
                path = f"{prefix}{name}"
                found.add(path)
                if child.type == "object":
                    walk(child, path + ".")
                elif child.type == "array" and child.item is not None:
                    found.add(path + "[]")
                    if child.item.type == "object":
                        walk(child.item, path + "[].")

        walk(self.root, "")
        return found


def _add(root: Node, key: str, spec: object) -> str | None:
    if not isinstance(spec, dict):
        return "Expected an object like {\"type\": \"string\"}"
    kind = spec.get("type")
    if kind not in TYPES:
        return f"type must be one of {', '.join(TYPES)}"
    unknown = sorted(set(spec) - {"type", "required", "of"})
    if unknown:
        return f"Unrecognized key(s) in object: {_quote(unknown)}"
    if not isinstance(spec.get("required", True), bool):
        return "required must be a boolean"
    if "of" in spec and (kind != "array" or spec["of"] not in TYPES):
        return "`of` is for arrays and must name a type"
    segments = key.split(".")
    if not all(_SEGMENT.match(s) for s in segments) or segments[-1].endswith("[]"):
        return "key must be dotted names, with [] after an array's name (items[].qty)"
    node = root
    for segment in segments[:-1]:
        name, is_array = segment.removesuffix("[]"), segment.endswith("[]")
        child = node.children.setdefault(name, Node("array" if is_array else "object"))
        if is_array:
            if child.type != "array":
                return f"{name} is not an array"
            child.item = child.item or Node("object")
            child = child.item
        if child.type != "object":
            return f"{name} is a {child.type}, it cannot have fields"
        node = child
    name = segments[-1]
    existing = node.children.get(name)
    if existing is not None and (existing.explicit or existing.type != kind):
        return f"{name} is declared twice or conflicts with a nested field"
    target = existing or Node(kind)
    target.explicit, target.required = True, spec.get("required", True)
    if "of" in spec:
        target.item = Node(spec["of"])
    node.children[name] = target
    return None


def _settle(node: Node) -> bool:
    """Implied containers are required when anything under them is; returns `node.required`."""
    inner = node.item if node.type == "array" else node
    if inner is not None and inner.type == "object":
        any_required = [_settle(c) for c in inner.children.values()]
        if not node.explicit:
            node.required = any(any_required)
    return node.required


def _check(node: Node, value: object, path: list, fields: dict, forms: list) -> None:
    def report(message: str) -> None:
        if path:
            fields.setdefault(".".join(map(str, path)), []).append(message)
        else:
            forms.append(message)

    expected = node.type
    got = received(value)
    if expected == "integer":
        if got != "number":
            return report(f"Expected integer, received {got}")
        if isinstance(value, float) and not value.is_integer():
            return report("Expected integer, received float")
        return None
    if got != expected:
        return report(f"Expected {expected}, received {got}")
    if expected == "object":
        unknown = sorted(set(value) - set(node.children))
        if unknown:
            report(f"Unrecognized key(s) in object: {_quote(unknown)}")
        for name, child in node.children.items():
            if name in value:
                _check(child, value[name], [*path, name], fields, forms)
            elif child.required:
                fields.setdefault(".".join(map(str, [*path, name])), []).append("Required")
    elif expected == "array" and node.item is not None:
        for index, item in enumerate(value):
            _check(node.item, item, [*path, index], fields, forms)
    return None


def _quote(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)
