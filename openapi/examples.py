#!/usr/bin/env python3
"""Examples in the OpenAPI document, checked two ways.

1. Every operation's request body and every 2xx response with content has
   an example: at the media type (`example`/`examples`), on its schema, or
   (for an object schema) on each required property, following `$ref`s.
   A part without one is listed as `operationId part content-type`.
2. `--validate`: every example in the document (schema `example` and
   `examples`, media-type `example` and `examples[*].value`, parameter
   examples) is valid against the schema it stands beside (JSON Schema Draft
   2020-12, `#/components/schemas/...` resolved through a `referencing`
   registry, formats such as `date-time` checked). Each failure names where
   the example is and the error.

Usage: examples.py openapi/openapi.json [--validate]. Exit status 1 when
something is missing or invalid. `--validate` needs `jsonschema` (installed
with openapi-spec-validator in openapi/check's venv).
"""

import copy
import json
import sys

DOC_URI = "urn:apiome:openapi"


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# --- 1. Missing examples -------------------------------------------------


def has_example(doc, schema, seen=()):
    """Whether `schema` (or what it refers to) gives an example."""
    if not isinstance(schema, dict):
        return False
    if "example" in schema or "examples" in schema:
        return True
    ref = schema.get("$ref")
    if ref:
        if ref in seen:
            return False
        return has_example(doc, resolve(doc, ref), seen + (ref,))
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "array" in types and "items" in schema:
        return has_example(doc, schema["items"], seen)
    props = schema.get("properties")
    if props:
        required = schema.get("required", [])
        if required:
            return all(has_example(doc, props[p], seen) for p in required)
        return any(has_example(doc, p, seen) for p in props.values())
    for key in ("oneOf", "anyOf", "allOf"):
        if key in schema:
            # `T | null` has an example when T has one.
            parts = [s for s in schema[key] if s != {"type": "null"}]
            return bool(parts) and all(has_example(doc, s, seen) for s in parts)
    return False


def resolve(doc, ref):
    if not ref.startswith("#/"):
        raise SystemExit(f"examples.py: cannot follow {ref!r}")
    node = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def operations(doc):
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if isinstance(op, dict) and "responses" in op:
                yield op.get("operationId", f"{method.upper()} {path}"), op


def missing(doc):
    out = []
    for name, op in operations(doc):
        body = op.get("requestBody")
        if body:
            body = resolve(doc, body["$ref"]) if "$ref" in body else body
            for ctype, media in body.get("content", {}).items():
                if not media_has_example(doc, media):
                    out.append((name, "request", ctype))
        for code, response in op["responses"].items():
            if not str(code).startswith("2"):
                continue
            if "$ref" in response:
                response = resolve(doc, response["$ref"])
            for ctype, media in response.get("content", {}).items():
                if not media_has_example(doc, media):
                    out.append((name, f"response {code}", ctype))
    return out


def media_has_example(doc, media):
    return "example" in media or "examples" in media or has_example(doc, media.get("schema"))


# --- 2. Examples valid against their schema ------------------------------


def rebase(node):
    """`node` with every local `$ref` made absolute in the registry."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#"):
                out[k] = DOC_URI + v
            else:
                out[k] = rebase(v)
        return out
    if isinstance(node, list):
        return [rebase(v) for v in node]
    return node


def without_examples(schema):
    s = dict(schema)
    s.pop("example", None)
    s.pop("examples", None)
    return s


SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SUBSCHEMA_ONE = (
    "items", "additionalProperties", "not", "if", "then", "else", "contains",
    "propertyNames", "unevaluatedItems", "unevaluatedProperties",
)


def schema_examples(schema, where):
    """(where, example, schema) for every example in `schema` and below."""
    if not isinstance(schema, dict):
        return
    if "example" in schema:
        yield where, schema["example"], schema
    if isinstance(schema.get("examples"), list):
        for i, ex in enumerate(schema["examples"]):
            yield f"{where} examples[{i}]", ex, schema
    for key in SUBSCHEMA_MAPS:
        for name, sub in (schema.get(key) or {}).items():
            yield from schema_examples(sub, f"{where}.{name}")
    for key in SUBSCHEMA_LISTS:
        for i, sub in enumerate(schema.get(key) or []):
            yield from schema_examples(sub, f"{where} {key}[{i}]")
    for key in SUBSCHEMA_ONE:
        if isinstance(schema.get(key), dict):
            yield from schema_examples(schema[key], f"{where} {key}")


def media_examples(media, where):
    schema = media.get("schema")
    if schema is None:
        return
    if "example" in media:
        yield where, media["example"], schema
    for name, ex in (media.get("examples") or {}).items():
        if isinstance(ex, dict) and "value" in ex:
            yield f"{where} examples.{name}", ex["value"], schema
    yield from schema_examples(schema, f"{where} schema")


def all_examples(doc):
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        yield from schema_examples(schema, f"schema {name}")

    def in_operation(name, op):
        for p in op.get("parameters", []):
            if "$ref" in p:
                continue
            where = f"{name} parameter {p.get('name')}"
            schema = p.get("schema")
            if schema is not None:
                if "example" in p:
                    yield where, p["example"], schema
                for ex_name, ex in (p.get("examples") or {}).items():
                    if isinstance(ex, dict) and "value" in ex:
                        yield f"{where} examples.{ex_name}", ex["value"], schema
                yield from schema_examples(schema, f"{where} schema")
        body = op.get("requestBody")
        if body and "$ref" not in body:
            for ctype, media in body.get("content", {}).items():
                yield from media_examples(media, f"{name} request {ctype}")
        for code, response in op.get("responses", {}).items():
            if "$ref" in response:
                continue
            for ctype, media in response.get("content", {}).items():
                yield from media_examples(media, f"{name} response {code} {ctype}")

    for name, op in operations(doc):
        yield from in_operation(name, op)
    for hook, item in doc.get("webhooks", {}).items():
        for method, op in item.items():
            if isinstance(op, dict):
                yield from in_operation(f"webhook {hook} {method}", op)


def invalid(doc):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    registry = Registry().with_resource(
        DOC_URI, Resource.from_contents(rebase(doc), default_specification=DRAFT202012)
    )
    out = []
    for where, example, schema in all_examples(doc):
        validator = Draft202012Validator(
            rebase(without_examples(schema)),
            registry=registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        for error in validator.iter_errors(copy.deepcopy(example)):
            at = "/".join(str(p) for p in error.absolute_path)
            out.append(f"{where}: {'at /' + at + ': ' if at else ''}{error.message}")
    return out


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        raise SystemExit("usage: examples.py openapi/openapi.json [--validate]")
    doc = load(args[0])
    failed = False
    lacking = missing(doc)
    for name, part, ctype in lacking:
        print(f"no example: {name} {part} {ctype}")
    if lacking:
        print(f"{len(lacking)} request bodies or 2xx responses without an example")
        failed = True
    if "--validate" in argv:
        errors = invalid(doc)
        for e in errors:
            print(f"invalid example: {e}")
        if errors:
            print(f"{len(errors)} examples do not match their schema")
            failed = True
        else:
            count = sum(1 for _ in all_examples(doc))
            print(f"examples.py: {count} examples match their schemas")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
