"""The Python twin of the record preparation (contract/prepared-data.ts prepareRecord,
recordPreparer, encodeLabel): a raw record (a JSON object keyed by input column) to the prepared
features of schema.json, value for value what the TypeScript gives, so a Python trainer's
evaluate mode scores a model on a dataset version's raw test rows (test.raw.jsonl) exactly as
the inference server would prepare them. runtime-images/python/prepare.test.ts runs both on the
same random and tricky rows.

JavaScript's conversions are reproduced where Python's differ: ``Number(text)`` (hex, binary and
octal literals, ``Infinity``, no underscores or non-ASCII digits), ``String.prototype.trim``'s
whitespace, ``String(number)`` and ``JSON.stringify`` (a category read from a number or an
object), UTF-8 of lone surrogates (the PII hash). Standard library only.
"""

import json
import math
import re
from decimal import Decimal

from .pii_hash import pii_hashing

# Cell texts that mean "no value", as pandas' read_csv treats them by default.
MISSING_TOKENS = frozenset(["", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "null", "NULL",
                            "None", "#N/A", "<NA>", "?"])

# String.prototype.trim: WhiteSpace (with every Zs) and LineTerminator.
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_DECIMAL = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_RADIX = {"x": (re.compile(r"0[xX][0-9a-fA-F]+"), 16), "o": (re.compile(r"0[oO][0-7]+"), 8),
          "b": (re.compile(r"0[bB][01]+"), 2)}


class CellError(ValueError):
    """A raw cell that does not fit its column's type (prepared-data.ts CellError)."""

    def __init__(self, column, value, message):
        super().__init__(message)
        self.column = column
        self.value = value


def js_trim(text):
    return text.strip(_JS_SPACE)


def js_string_to_number(text):
    """``Number(text)``: the number a JavaScript string converts to, NaN when none."""
    text = js_trim(text)
    if text == "":
        return 0.0
    if _DECIMAL.fullmatch(text):
        if text.lstrip("+-") == "Infinity":
            return -math.inf if text.startswith("-") else math.inf
        return float(text)
    if len(text) > 2 and text[0] == "0" and text[1].lower() in _RADIX:
        pattern, base = _RADIX[text[1].lower()]
        if pattern.fullmatch(text):
            value = int(text[2:], base)
            try:
                return float(value)
            except OverflowError:
                return math.inf
    return math.nan


def js_number_string(x):
    """``String(x)`` of a double (Number::toString, shortest round-trip digits)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    digits_tuple, exponent = Decimal(repr(abs(x))).normalize().as_tuple()[1:]
    digits = "".join(map(str, digits_tuple))
    k = len(digits)
    n = k + exponent
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def _js_number(value):
    """A JSON number (int or float) as the double JavaScript holds."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def js_string(value):
    """``String(value)`` of a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number_string(_js_number(value))
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join("" if v is None else js_string(v) for v in value)
    return "[object Object]"


def _array_index(key):
    return key.isascii() and key.isdigit() and (key == "0" or key[0] != "0") and int(key) < 2 ** 32 - 1


def js_json_stringify(value):
    """``JSON.stringify(value)`` of a JSON value (integer-like keys first, as JavaScript orders)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        number = _js_number(value)
        return js_number_string(number) if math.isfinite(number) else "null"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return re.sub("[\ud800-\udfff]", lambda m: "\\u%04x" % ord(m.group()), text)
    if isinstance(value, list):
        return "[" + ",".join(js_json_stringify(v) for v in value) + "]"
    keys = list(value)
    ordered = sorted((k for k in keys if _array_index(k)), key=int) + [k for k in keys if not _array_index(k)]
    return "{" + ",".join(js_json_stringify(k) + ":" + js_json_stringify(value[k]) for k in ordered) + "}"


def is_missing(value):
    """Whether a raw cell is missing (null, NaN, or a missing token once trimmed)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return js_trim(value) in MISSING_TOKENS
    return False


def parse_numeric_cell(column, value):
    """A numeric cell as a float, or None when missing; CellError when not a number."""
    if is_missing(value):
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        number = _js_number(value)
        if math.isfinite(number):
            return number
    elif isinstance(value, str):
        number = js_string_to_number(value)
        if math.isfinite(number):
            return number
    raise CellError(column, value, f"column {column}: {js_json_stringify(value)} is not a number")


def parse_category_cell(column_type, value):
    """A categorical or boolean cell as its category text, or None when missing."""
    if is_missing(value):
        return None
    if column_type == "boolean":
        text = js_trim(js_string(value)).lower()
        if text in ("true", "t", "yes", "y", "1"):
            return "true"
        if text in ("false", "f", "no", "n", "0"):
            return "false"
        return text
    if isinstance(value, str):
        return js_trim(value)
    if isinstance(value, (bool, int, float)):
        return js_string(value)
    return js_json_stringify(value)


def _required(column, raw):
    return CellError(column, raw, f"column {column}: a value is required")


def _numeric_preparer(spec):
    name, impute, scale = spec["name"], spec["impute"], spec["scale"]
    method = scale["method"]
    if method == "standard":
        mean, std = float(scale["mean"]), float(scale["std"])
        scaled = lambda n: (n - mean) / std  # noqa: E731
    elif method == "minMax":
        low, high = float(scale["min"]), float(scale["max"])
        span = high - low
        scaled = (lambda n: 0.0) if high == low else (lambda n: (n - low) / span)  # noqa: E731
    else:
        scaled = float

    def prepare(record, out, hash_value):
        raw = record.get(name)
        value = parse_numeric_cell(name, raw)
        if value is None:
            if impute is None:
                raise _required(name, raw)
            value = float(impute)
        out.append(scaled(value))

    return prepare


def _categorical_preparer(spec):
    name, impute, column_type = spec["name"], spec["impute"], spec["type"]
    categories = spec["categories"]
    index_of = {}
    for i, category in enumerate(categories):
        index_of.setdefault(category, i)
    hashed = spec.get("hash") is not None or spec.get("hashSalt") is not None
    known, other, ordinal = len(categories), bool(spec["other"]), spec["encoding"] == "ordinal"

    def prepare(record, out, hash_value):
        raw = record.get(name)
        category = parse_category_cell(column_type, raw)
        if category is not None and hashed:
            category = hash_value(spec, category)
        value = category if category is not None else impute
        if value is None:
            raise _required(name, raw)
        i = index_of.get(value, -1)
        if ordinal:
            out.append(float(i if i >= 0 else (known if other else -1)))
            return
        features = [0.0] * (known + (1 if other else 0))
        if i >= 0:
            features[i] = 1.0
        elif other:
            features[known] = 1.0
        out.extend(features)

    return prepare


def record_preparer(schema, hash_value=None):
    """``prepare(record) -> [float]`` in schema["features"] order (doubles; a model is fed their
    float32). Raises CellError naming the column; PiiKeyMissingError for a keyed PII column's
    raw value without a key. ``hash_value(column, value)`` hashes PII cells (default: no key)."""
    hash_value = hash_value or pii_hashing(None)
    steps = [_numeric_preparer(i) if i["kind"] == "numeric" else _categorical_preparer(i)
             for i in schema["inputs"]]

    def prepare(record):
        out = []
        for step in steps:
            step(record, out, hash_value)
        return out

    return prepare


def prepare_record(schema, record, hash_value=None):
    """The prepared features of one raw record (prepareRecord)."""
    return record_preparer(schema, hash_value)(record)


def encode_label(schema, raw):
    """The prepared label of a raw label cell: a class index or a number. CellError otherwise."""
    name = schema["label"]["name"]
    if schema["task"] == "regression":
        value = parse_numeric_cell(name, raw)
        if value is None:
            raise CellError(name, raw, f"label {name}: a value is required")
        return value
    value = parse_category_cell(schema["label"]["type"], raw)
    if value is None:
        raise CellError(name, raw, f"label {name}: a value is required")
    classes = schema["label"].get("classes") or []
    if value not in classes:
        raise CellError(name, raw, f"label {name}: {js_json_stringify(value)} is not a known class")
    return classes.index(value)
