#!/usr/bin/env python3
"""A Confluent-compatible schema registry for the connector's tests (Python standard library only).

Serves the part of the Confluent Schema Registry REST API that clients use, as the API reference
describes it: status codes, `error_code` values and bodies.

  GET  /schemas/ids/{id}                               {"schema", "schemaType"?, "references"?}
  GET  /subjects                                       ["subject", ...]
  GET  /subjects/{subject}/versions                    [1, 2, ...]
  GET  /subjects/{subject}/versions/{version|latest}   {"subject", "version", "id", "schema", ...}
  POST /subjects/{subject}/versions                    {"id"}  (same schema again: same id)
  POST /compatibility/subjects/{subject}/versions/{v}  {"is_compatible"}
  GET  /config, PUT /config/{subject}                  compatibility level (BACKWARD by default)

Errors: 401 (basic auth required when REGISTRY_USER is set), 40401 subject not found, 40402 version
not found, 40403 schema not found, 409 incompatible, 42201 invalid schema (Avro text that is not
JSON), 50001 anything else. Compatibility (BACKWARD) for Avro records: every field of the new schema
that is not in the latest version needs a default, and no common field may change its type; other
schema types are always compatible. Schemas are kept in memory: a restart starts empty.

Listens on 127.0.0.1 only. Usage: registry.py PORT (REGISTRY_USER / REGISTRY_PASSWORD from the
environment).
"""

import base64
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

LOCK = threading.Lock()
SCHEMAS = {}  # id -> {"schema", "schemaType", "references"}
SUBJECTS = {}  # subject -> [id, ...] (version n is index n-1)
CONFIG = {"": "BACKWARD"}


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def key_of(body):
    return json.dumps(
        [body.get("schemaType", "AVRO"), body["schema"], body.get("references", [])], sort_keys=True
    )


def check_schema(body):
    if not isinstance(body.get("schema"), str):
        raise ApiError(422, 42201, "Invalid schema: `schema` must be a string")
    kind = body.get("schemaType", "AVRO")
    if kind not in ("AVRO", "PROTOBUF", "JSON"):
        raise ApiError(422, 42201, f"Invalid schema type {kind}")
    if kind in ("AVRO", "JSON"):
        try:
            json.loads(body["schema"])
        except ValueError:
            raise ApiError(422, 42201, "Invalid schema: not JSON")
    for ref in body.get("references", []) or []:
        versions = SUBJECTS.get(ref.get("subject"))
        if not versions or not (1 <= int(ref.get("version", 0)) <= len(versions)):
            raise ApiError(422, 42201, f"Invalid schema: unresolved reference {ref.get('name')}")


def avro_fields(text):
    try:
        schema = json.loads(text)
    except ValueError:
        return None
    if isinstance(schema, dict) and schema.get("type") == "record":
        return {f["name"]: f for f in schema.get("fields", [])}
    return None


def compatible(subject, body):
    level = CONFIG.get(subject, CONFIG[""])
    versions = SUBJECTS.get(subject)
    if level == "NONE" or not versions:
        return True
    latest = SCHEMAS[versions[-1]]
    if body.get("schemaType", "AVRO") != "AVRO" or latest["schemaType"] != "AVRO":
        return True
    new, old = avro_fields(body["schema"]), avro_fields(latest["schema"])
    if new is None or old is None:
        return json.loads(body["schema"]) == json.loads(latest["schema"])
    for name, field in new.items():
        if name not in old and "default" not in field:
            return False
        if name in old and json.dumps(old[name]["type"], sort_keys=True) != json.dumps(
            field["type"], sort_keys=True
        ):
            return False
    return True


def version_body(subject, version_text):
    versions = SUBJECTS.get(subject)
    if not versions:
        raise ApiError(404, 40401, f"Subject '{subject}' not found.")
    if version_text == "latest":
        index = len(versions)
    else:
        try:
            index = int(version_text)
        except ValueError:
            raise ApiError(422, 42202, "The specified version is not a valid version id.")
        if index == -1:
            index = len(versions)
    if not 1 <= index <= len(versions):
        raise ApiError(404, 40402, f"Version {version_text} not found.")
    schema_id = versions[index - 1]
    out = {"subject": subject, "version": index, "id": schema_id}
    out.update(public(SCHEMAS[schema_id]))
    return out


def public(stored):
    out = {"schema": stored["schema"]}
    if stored["schemaType"] != "AVRO":
        out["schemaType"] = stored["schemaType"]
    if stored["references"]:
        out["references"] = stored["references"]
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: tests run it in the background
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        user = os.environ.get("REGISTRY_USER")
        if not user:
            return True
        expected = base64.b64encode(
            f"{user}:{os.environ.get('REGISTRY_PASSWORD', '')}".encode()
        ).decode()
        return self.headers.get("Authorization") == f"Basic {expected}"

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > 16 << 20:
            raise ApiError(413, 41301, "Request too large")
        try:
            return json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            raise ApiError(400, 40001, "Unrecognized request body")

    def handle_any(self, method):
        if not self.authorized():
            self.reply(401, {"error_code": 401, "message": "Unauthorized"})
            return
        parts = [unquote(p) for p in self.path.split("?")[0].strip("/").split("/")]
        try:
            with LOCK:
                status, body = self.route(method, parts)
            self.reply(status, body)
        except ApiError as e:
            self.reply(e.status, {"error_code": e.code, "message": e.message})
        except Exception as e:  # a bug here must not look like a registry answer
            self.reply(500, {"error_code": 50001, "message": f"Error in the backend: {e}"})

    def route(self, method, p):
        if method == "GET" and len(p) == 3 and p[:2] == ["schemas", "ids"]:
            try:
                stored = SCHEMAS[int(p[2])]
            except (KeyError, ValueError):
                raise ApiError(404, 40403, "Schema not found")
            return 200, public(stored)
        if method == "GET" and p == ["subjects"]:
            return 200, sorted(SUBJECTS)
        if len(p) >= 3 and p[0] == "subjects" and p[2] == "versions":
            subject = p[1]
            if method == "GET" and len(p) == 3:
                if subject not in SUBJECTS:
                    raise ApiError(404, 40401, f"Subject '{subject}' not found.")
                return 200, list(range(1, len(SUBJECTS[subject]) + 1))
            if method == "GET" and len(p) == 4:
                return 200, version_body(subject, p[3])
            if method == "POST" and len(p) == 3:
                body = self.body()
                check_schema(body)
                body.setdefault("schemaType", "AVRO")
                body["references"] = body.get("references") or []
                key = key_of(body)
                existing = next((i for i, s in SCHEMAS.items() if key_of(s) == key), None)
                versions = SUBJECTS.setdefault(subject, [])
                if existing is not None and existing in versions:
                    return 200, {"id": existing}
                if not compatible(subject, body):
                    if not versions:
                        del SUBJECTS[subject]
                    raise ApiError(
                        409, 409, "Schema being registered is incompatible with an earlier schema"
                    )
                if existing is None:
                    existing = len(SCHEMAS) + 1
                    SCHEMAS[existing] = {
                        "schema": body["schema"],
                        "schemaType": body["schemaType"],
                        "references": body["references"],
                    }
                versions.append(existing)
                return 200, {"id": existing}
        if method == "POST" and len(p) == 5 and p[0] == "compatibility" and p[1] == "subjects":
            body = self.body()
            check_schema(body)
            version_body(p[2], p[4])  # 40401 / 40402 as the API does
            return 200, {"is_compatible": compatible(p[2], body)}
        if method == "GET" and p == ["config"]:
            return 200, {"compatibilityLevel": CONFIG[""]}
        if method == "PUT" and len(p) == 2 and p[0] == "config":
            level = self.body().get("compatibility")
            CONFIG[p[1]] = level
            return 200, {"compatibility": level}
        raise ApiError(404, 404, "HTTP 404 Not Found")

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")


def main():
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
