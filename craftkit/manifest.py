"""Template manifests: the typed variables a template version accepts, validation of render data
against them with Zod-like messages, and the JSON Schema (2020-12) and example they imply.

A manifest names each variable by its dotted key path; `[]` marks the items of an array:

    {"fields": {
        "number":        {"type": "string", "pattern": "^INV-[0-9]+$", "example": "INV-1"},
        "issued":        {"type": "date"},
        "currency":      {"type": "enum", "values": ["EUR", "USD"], "default": "EUR"},
        "customer.name": {"type": "string", "minLength": 1, "maxLength": 200},
        "items":         {"type": "array", "maxItems": 500},
        "items[].name":  {"type": "string"},
        "items[].qty":   {"type": "integer", "min": 1},
        "items[].price": {"type": "number", "min": 0},
        "tags":          {"type": "array", "of": "string", "required": false},
        "total":         {"type": "number"}}}

Types: string, number, integer, boolean, date (YYYY-MM-DD), datetime (RFC 3339 with a zone),
enum (`values`), object, array (`of` a scalar type, or `items[].x` fields). Every field is required
unless it says `"required": false` or has a `default` (filled in when the field is missing). An
object or array implied by a deeper path is required when any field under it is. Constraints:
`min`/`max` (numbers), `minLength`/`maxLength`/`pattern` (strings; a pattern is searched for, as in
JSON Schema), `minItems`/`maxItems` (arrays). `example` feeds the generated example body, which
must validate. Errors are keyed by the dotted path of the offending value (`items.0.qty`), all at
once (as many as fit in a gRPC header: `errors.to_status` keeps the first).

Patterns are RE2 (google-re2), so checking one takes time linear in the text whatever the pattern
and the data: `^(a+)+$` cannot freeze a service. RE2 has no backreferences or lookaround; a
pattern that needs them is refused when the version is added. Every check of a manifest is
bounded (the LIMITS below; docs/layout.md lists them), and so is the example built from it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import date, datetime

import re2

from craftkit import errors, examples, inputs
from craftkit.errors import InvalidInputData, InvalidTemplate

SCALARS = ("string", "number", "integer", "boolean", "date", "datetime", "enum")
TYPES = (*SCALARS, "object", "array")
_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[\])?")
# Anchored for the JSON Schema they go into; matched here with fullmatch (whole strings).
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
# What one manifest may ask for: each bounds the work of checking it and of checking data by it.
MAX_FIELDS = 500
MAX_KEY_LENGTH = 200
MAX_KEY_DEPTH = 10  # dotted segments in a key: a.b.c is 3
MAX_PATTERN_LENGTH = 1000
MAX_PATTERN_PROGRAM = 2000  # RE2 instructions: bounds the cost per character checked
MAX_ENUM_VALUES = 1000
MAX_ENUM_VALUE_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 2000
MAX_EXAMPLE_SIZE = 100_000  # characters and values of the generated example body
MAX_PATTERN_WORK = 100_000_000  # characters checked x RE2 instructions, per body: ~0.4 s at worst
RE2_MEMORY = 2 << 20  # bytes per compiled pattern (RE2's max_mem: program and DFA cache)
CONSTRAINTS = {
    "string": ("minLength", "maxLength", "pattern"),
    "number": ("min", "max"), "integer": ("min", "max"),
    "array": ("minItems", "maxItems"),
}
COMMON = ("type", "required", "default", "example", "description")
SCHEMA_NAMES = {"min": "minimum", "max": "maximum", "minLength": "minLength",
                "maxLength": "maxLength", "pattern": "pattern", "minItems": "minItems",
                "maxItems": "maxItems", "default": "default", "description": "description"}


@dataclass
class Node:
    type: str
    required: bool = True
    explicit: bool = False
    children: dict[str, Node] = field(default_factory=dict)  # object
    item: Node | None = None  # array
    spec: dict = field(default_factory=dict)  # constraints, values, default, example


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
        if not isinstance(manifest, dict) or not isinstance(manifest.get("fields"), dict):
            raise InvalidTemplate("manifest must be an object with a `fields` object",
                                  field_errors={"manifest": ["Expected an object with `fields`"]})
        unsafe = inputs.problem(manifest)
        if unsafe:
            where = "manifest" + (f".{unsafe[0]}" if unsafe[0] else "")
            raise InvalidTemplate(f"{where} {unsafe[1]}", field_errors={where: [unsafe[1]]})
        if len(manifest["fields"]) > MAX_FIELDS:
            raise InvalidTemplate(
                f"the manifest has {len(manifest['fields'])} fields; at most {MAX_FIELDS}",
                field_errors={"manifest.fields": [f"At most {MAX_FIELDS} fields"]})
        problems: dict[str, list[str]] = {}
        root = Node("object", explicit=True)
        work = [MAX_PATTERN_WORK]  # one budget for every example and default
        for key, spec in manifest["fields"].items():
            error = _add(root, key, spec, work)
            if error:
                problems.setdefault(f"manifest.fields.{inputs.cut(key)}",
                                    []).append(error)
        unknown = sorted(set(manifest) - {"fields"})
        if unknown:
            problems["manifest"] = [f"Unrecognized key(s) in object: {_quote(unknown)}"]
        if problems:
            raise InvalidTemplate("the manifest is not valid", field_errors=problems)
        _settle(root)
        compiled = cls(root)
        try:
            compiled.validate(compiled.example())
        except InvalidInputData as exc:
            raise InvalidTemplate(
                "the manifest's examples and defaults do not make a valid body; fix the "
                "`example` of the fields named", form_errors=exc.form_errors, field_errors={
                    f"manifest.example.{path}": messages
                    for path, messages in exc.field_errors.items()}) from None
        return compiled

    def validate(self, data: object) -> dict:
        """`data` with defaults filled in; InvalidInputData lists every problem.
        Data nested deeper than inputs.MAX_DEPTH, or holding what cannot be stored (NUL, a lone
        surrogate, a non-finite number), is refused first, whatever its depth."""
        data, unsafe = inputs.safe_copy(data)
        if unsafe:
            where, message = unsafe
            raise InvalidInputData(f"data{'.' + where if where else ''} {message}",
                                   field_errors={where: [message]} if where else None,
                                   form_errors=None if where else [message])
        fields: dict[str, list[str]] = {}
        forms: list[str] = []
        _check(self.root, data, [], fields, forms, [MAX_PATTERN_WORK])
        if fields or forms:
            raise InvalidInputData("data does not match the template version's manifest",
                                   field_errors=fields, form_errors=forms)
        return data

    def paths(self) -> dict[str, str]:
        """Every path a layout may reference, with its type: `a.b`, and `items[].name` inside
        arrays (`items[]` is the item itself)."""
        found: dict[str, str] = {}

        def walk(node: Node, prefix: str) -> None:
            for name, child in node.children.items():
                path = f"{prefix}{name}"
                found[path] = child.type
                if child.type == "object":
                    walk(child, path + ".")
                elif child.type == "array" and child.item is not None:
                    found[path + "[]"] = child.item.type
                    if child.item.type == "object":
                        walk(child.item, path + "[].")

        walk(self.root, "")
        return found

    def json_schema(self, title: str = "") -> dict:
        """The JSON Schema (2020-12) of `data`: it accepts exactly what `validate` accepts."""
        return {"$schema": "https://json-schema.org/draft/2020-12/schema",
                **({"title": title} if title else {}), **_schema(self.root)}

    def example(self) -> dict:
        """A `data` object that validates: examples, defaults, then values the constraints allow.
        InvalidTemplate when it would be over MAX_EXAMPLE_SIZE (minItems and minLength multiply
        through nested arrays)."""
        return _example(self.root, [MAX_EXAMPLE_SIZE], [])


# ------------------------------------------------------------------------------------- parsing

def _add(root: Node, key: str, spec: object, work: list[int]) -> str | None:
    if not isinstance(spec, dict):
        return "Expected an object like {\"type\": \"string\"}"
    kind = spec.get("type")
    if kind not in TYPES:
        return f"type must be one of {', '.join(TYPES)}"
    allowed = {*COMMON, *CONSTRAINTS.get(kind, ()), *(("values",) if kind == "enum" else ()),
               *(("of",) if kind == "array" else ())}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        return f"Unrecognized key(s) for a {kind}: {_quote(unknown)}"
    problem = _check_spec(kind, spec)
    if problem:
        return problem
    if len(key) > MAX_KEY_LENGTH:
        return f"key is {len(key)} characters; at most {MAX_KEY_LENGTH}"
    segments = key.split(".")
    if not all(_SEGMENT.fullmatch(s) for s in segments) or segments[-1].endswith("[]"):
        return "key must be dotted names, with [] after an array's name (items[].qty)"
    if len(segments) > MAX_KEY_DEPTH:
        return f"key is nested {len(segments)} levels deep; at most {MAX_KEY_DEPTH}"
    node = root
    for segment in segments[:-1]:
        name, is_array = segment.removesuffix("[]"), segment.endswith("[]")
        child = node.children.setdefault(name, Node("array" if is_array else "object"))
        if is_array:
            if child.type != "array" or "of" in child.spec:
                return f"{name} is not an array of objects"
            child.item = child.item or Node("object")
            child = child.item
        if child.type != "object":
            return f"{name} is a {child.type}, it cannot have fields"
        node = child
    name = segments[-1]
    existing = node.children.get(name)
    if existing is not None and (existing.explicit or existing.type != kind):
        return f"{name} is declared twice or conflicts with a nested field"
    if "of" in spec and existing is not None and existing.item is not None:
        return f"{name} is declared as an array of {spec['of']} and of objects"
    target = existing or Node(kind)
    target.explicit = True
    target.required = spec.get("required", True) and "default" not in spec
    target.spec = {k: v for k, v in spec.items() if k not in ("type", "required")}
    if "pattern" in spec:
        target.spec["compiled"] = _pattern(spec["pattern"])
    if "of" in spec:
        target.item = Node(spec["of"])
    for what in ("default", "example"):
        problem = _scalar_problem(target, spec[what], work) if what in spec else None
        if problem:
            return problem if isinstance(problem, str) else f"{what} is not a valid {kind}"
    node.children[name] = target
    return None


def _check_spec(kind: str, spec: dict) -> str | None:
    if not isinstance(spec.get("required", True), bool):
        return "required must be a boolean"
    if "description" in spec and not isinstance(spec["description"], str):
        return "description must be a string"
    if len(spec.get("description", "")) > MAX_DESCRIPTION_LENGTH:
        return f"description is over {MAX_DESCRIPTION_LENGTH} characters"
    for name in ("min", "max"):
        if name in spec and _number(spec[name]) is None:
            return f"{name} must be a number"
    for name in ("minLength", "maxLength", "minItems", "maxItems"):
        if name in spec and not (_whole(spec[name]) and spec[name] >= 0):
            return f"{name} must be a whole number of 0 or more"
    for low, high in (("min", "max"), ("minLength", "maxLength"), ("minItems", "maxItems")):
        if low in spec and high in spec and spec[low] > spec[high]:
            return f"{low} is greater than {high}"
    if "pattern" in spec:
        problem = _pattern_problem(spec["pattern"])
        if problem:
            return problem
        if "example" not in spec and "default" not in spec:
            return "a field with a pattern needs an example (it goes into the cURL snippet)"
    if kind == "enum":
        values = spec.get("values")
        if not (isinstance(values, list) and values and all(isinstance(v, str) for v in values)
                and len(set(values)) == len(values)):
            return "values must be a non-empty list of distinct strings"
        if len(values) > MAX_ENUM_VALUES:
            return f"values has {len(values)} entries; at most {MAX_ENUM_VALUES}"
        if any(len(v) > MAX_ENUM_VALUE_LENGTH for v in values):
            return f"each of values must be at most {MAX_ENUM_VALUE_LENGTH} characters"
    if kind == "array" and "of" in spec:
        if spec["of"] not in SCALARS or spec["of"] == "enum":
            return ("of must be one of string, number, integer, boolean, date, datetime "
                    "(use items[].x fields for objects)")
    if "default" in spec and kind in ("object", "array"):
        return "only scalar fields can have a default"
    return None


def _pattern(pattern: str) -> re2._Regexp:
    """The RE2 form of a (checked) pattern: only whether it matches is asked, so no captures."""
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    options.max_mem = RE2_MEMORY
    return re2.compile(pattern, options)


def _pattern_problem(pattern: object) -> str | None:
    """Why a manifest's `pattern` cannot be used, or None."""
    if not isinstance(pattern, str):
        return "pattern must be a string (a regular expression)"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"pattern is {len(pattern)} characters; at most {MAX_PATTERN_LENGTH}"
    try:
        compiled = _pattern(pattern)
    except (re2.error, UnicodeEncodeError) as exc:
        reason = exc.args[0] if exc.args else "invalid"
        reason = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        return (f"pattern must be a valid regular expression (RE2 says: {inputs.cut(reason)}); "
                "patterns run in linear time, so backreferences (\\1) and lookaround "
                "((?=, (?!, (?<=, (?<!) are not available")
    if compiled.programsize > MAX_PATTERN_PROGRAM:
        return (f"pattern is too complex ({compiled.programsize} RE2 instructions; at most "
                f"{MAX_PATTERN_PROGRAM}): use fewer or smaller counted repetitions like {{n,m}}")
    return None


def _scalar_problem(node: Node, value: object, work: list[int]) -> bool | str:
    """False when `value` is valid for `node`; True when it is not; the message when the
    pattern budget ran out."""
    if node.type in ("object", "array"):
        return False  # checked with the whole example, once the manifest is complete
    fields: dict = {}
    forms: list = []
    _check(node, value, ["x"], fields, forms, work)
    return forms[0] if forms else bool(fields)


def _settle(node: Node) -> bool:
    """Implied containers are required when anything under them is; returns `node.required`."""
    inner = node.item if node.type == "array" else node
    if inner is not None and inner.type == "object":
        any_required = [_settle(c) for c in inner.children.values()]
        if not node.explicit:
            node.required = any(any_required)
    return node.required


def _number(value: object) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------- validation

def _check(node: Node, value: object, path: list, fields: dict, forms: list,
           work: list[int]) -> None:
    """Adds the problems of `value` to `fields`/`forms`. `work`: what is left of
    MAX_PATTERN_WORK for this body's pattern checks."""
    def report(message: str) -> None:
        if path:
            fields.setdefault(".".join(map(str, path)), []).append(message)
        else:
            forms.append(message)

    kind, spec, got = node.type, node.spec, received(value)
    if kind == "integer":
        if got != "number":
            return report(f"Expected integer, received {got}")
        if isinstance(value, float) and not value.is_integer():
            return report("Expected integer, received float")
    elif kind == "enum":
        if value not in spec["values"]:
            shown = errors.shorten(value) if isinstance(value, str) else got
            values = spec["values"]
            expected = " | ".join(f"'{inputs.cut(v, 40)}'" for v in values[:10]) + (
                f" | … ({len(values)} values)" if len(values) > 10 else "")
            return report(f"Invalid enum value. Expected {expected}, received {shown}")
        return None
    elif kind in ("date", "datetime"):
        if got != "string":
            return report(f"Expected string, received {got}")
        if not _valid_moment(kind, value):
            return report(f"Invalid {kind}" + (" (expected YYYY-MM-DD)" if kind == "date" else
                                               " (expected RFC 3339, e.g. 2026-05-03T10:14:00Z)"))
        return None
    elif got != kind:
        return report(f"Expected {kind}, received {got}")

    if kind in ("number", "integer"):
        if "min" in spec and value < spec["min"]:
            report(f"Number must be greater than or equal to {spec['min']}")
        if "max" in spec and value > spec["max"]:
            report(f"Number must be less than or equal to {spec['max']}")
    elif kind == "string":
        if "minLength" in spec and len(value) < spec["minLength"]:
            report(f"String must contain at least {spec['minLength']} character(s)")
        if "maxLength" in spec and len(value) > spec["maxLength"]:
            report(f"String must contain at most {spec['maxLength']} character(s)")
        if "compiled" in spec and _afford(work, spec["compiled"], value, forms) and \
                not spec["compiled"].search(value):
            report(f"Invalid: must match the pattern {inputs.cut(spec['pattern'])}")
    elif kind == "object":
        unknown = sorted(set(value) - set(node.children))
        if unknown:
            report(f"Unrecognized key(s) in object: {_quote(unknown)}")
        for name, child in node.children.items():
            if name in value:
                _check(child, value[name], [*path, name], fields, forms, work)
            elif "default" in child.spec:
                value[name] = copy.deepcopy(child.spec["default"])
            elif child.required:
                fields.setdefault(".".join(map(str, [*path, name])), []).append("Required")
    elif kind == "array":
        if "minItems" in spec and len(value) < spec["minItems"]:
            report(f"Array must contain at least {spec['minItems']} element(s)")
        if "maxItems" in spec and len(value) > spec["maxItems"]:
            return report(f"Array must contain at most {spec['maxItems']} element(s)")
        if node.item is not None:
            for index, item in enumerate(value):
                _check(node.item, item, [*path, index], fields, forms, work)
    return None


def _afford(work: list[int], pattern: re2._Regexp, value: str, forms: list) -> bool:
    """Whether checking `value` fits in what is left of MAX_PATTERN_WORK (RE2 is linear in the
    text, but its cost per character grows with the pattern); refused once when it does not."""
    work[0] -= pattern.programsize * (len(value) + 1)
    if work[0] >= 0:
        return True
    if work[0] + pattern.programsize * (len(value) + 1) >= 0:  # the first check over the limit
        forms.append(f"the data has too much text to check against the manifest's patterns (at "
                     f"most {MAX_PATTERN_WORK:,} characters × pattern size in one body; see "
                     "docs/layout.md); send less text in fields with a pattern")
    return False


def _valid_moment(kind: str, value: str) -> bool:
    try:
        if kind == "date":
            return bool(DATE.fullmatch(value)) and bool(date.fromisoformat(value))
        return bool(DATETIME.fullmatch(value)) and bool(
            datetime.fromisoformat(value.upper().replace("Z", "+00:00")))
    except ValueError:
        return False


# ------------------------------------------------------------------------ JSON Schema, example

def _schema(node: Node) -> dict:
    spec, kind = node.spec, node.type
    out: dict = {}
    if kind == "enum":
        out.update(type="string", enum=list(spec["values"]))
    elif kind == "date":
        out.update(type="string", format="date", pattern=DATE.pattern)
    elif kind == "datetime":
        out.update(type="string", format="date-time", pattern=DATETIME.pattern)
    else:
        out["type"] = kind
    if kind == "object":
        out["properties"] = {name: _schema(child) for name, child in node.children.items()}
        required = [name for name, child in node.children.items() if child.required]
        if required:
            out["required"] = required
        out["additionalProperties"] = False
    elif kind == "array" and node.item is not None:
        out["items"] = _schema(node.item)
    out.update({SCHEMA_NAMES[k]: v for k, v in spec.items() if k in SCHEMA_NAMES})
    if "example" in spec:
        out["examples"] = [spec["example"]]
    return out


def _example(node: Node, budget: list[int], path: list[str]) -> object:
    """`budget`: characters and values still allowed; InvalidTemplate once it runs out. `path`:
    the key segments down to `node` (arrays as `items[]`), whose names suggest plausible values
    (craftkit.examples) where no example or default is given."""
    spec, kind = node.spec, node.type
    _spend(budget, 1)
    if "example" in spec:
        _spend(budget, len(str(spec["example"])))
        return copy.deepcopy(spec["example"])
    if "default" in spec:
        return spec["default"]
    if kind == "object":
        return {name: _example(child, budget, [*path, name])
                for name, child in node.children.items()}
    if kind == "array":
        count = min(max(1, spec.get("minItems", 0)), spec.get("maxItems", 1))
        _spend(budget, count)
        item_path = [*path[:-1], f"{path[-1] if path else ''}[]"]
        return ([_example(node.item, budget, item_path) for _ in range(count)]
                if node.item is not None else [])
    if kind in ("number", "integer"):
        return examples.number(path, kind == "integer", spec.get("min"), spec.get("max"))
    if kind == "string":
        length = max(1, spec.get("minLength", 1))
        _spend(budget, length)  # before building it: minLength may be huge
        return examples.string(path, length, spec.get("maxLength"))
    return {"boolean": True, "date": "2026-01-31", "datetime": "2026-01-31T09:30:00Z",
            "enum": spec.get("values", [""])[0]}[kind]


def _spend(budget: list[int], amount: int) -> None:
    budget[0] -= amount
    if budget[0] < 0:
        raise InvalidTemplate(
            f"the example body this manifest implies is over {MAX_EXAMPLE_SIZE} characters and "
            "values (minItems and minLength multiply through nested arrays); give the large "
            "fields an `example` or lower their minimums",
            field_errors={"manifest.fields": ["Example body too large"]})


def _quote(names: list[str]) -> str:
    """Names for a message: the first five, each cut short, and how many more."""
    shown = ", ".join(f"'{inputs.cut(n, 30)}'" for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")
