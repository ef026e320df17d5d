#!/usr/bin/env python3
"""Seeds the two servers that scripts/load/load.sh drives, through their HTTP APIs only.

    setup.py optima     BASE_URL BLOB_FILE   (env: READER, WRITER, READER_TOKEN, WRITER_TOKEN, ADMIN_TOKEN)
    setup.py pocketbase BASE_URL BLOB_FILE   (env: PB_ADMIN_EMAIL, PB_ADMIN_PASSWORD)

Each prints `NAME=value` lines (shell-quoted) for load.sh to eval; progress and errors go to
stderr, and any unexpected answer exits non-zero naming the request and the body.

Both servers get the same data: a reading user with SEED_PROJECTS music projects (the list
shapes read 20 of them, the get shape one), a writing user that the create and chat shapes
write as (so the reads see the same rows whatever the writes did), and a 1 MiB object owned by
the reading user that only the owner may read.
"""

import http.client
import json
import os
import shlex
import sys
import urllib.parse
import uuid

SEED_PROJECTS = 50
GENRES = ["synthwave", "ambient", "hip hop", "techno", "lo-fi"]


class Client:
    def __init__(self, base):
        url = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    def call(self, method, path, token=None, body=None, raw=None, content_type="application/json", expect=(200,)):
        headers = {}
        data = None
        if raw is not None:
            data, headers["Content-Type"] = raw, content_type
        elif body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        if token:
            headers["Authorization"] = token
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        payload = resp.read()
        if resp.status not in expect:
            sys.exit(f"error: {method} {path} answered {resp.status}: {payload[:500].decode(errors='replace')}")
        if resp.headers.get("Content-Type", "").startswith("application/json") and payload:
            return json.loads(payload)
        return payload


def multipart(fields, file_field, file_name, file_bytes):
    boundary = "----optima-load-" + uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{file_name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + file_bytes
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def project_body(i):
    return {"title": f"Track {i:03d}", "genre": GENRES[i % len(GENRES)], "bpm": 80 + i % 100, "key": "Am", "mood": "dark"}


def emit(**values):
    for name, value in values.items():
        print(f"{name}={shlex.quote(str(value))}")


def optima(base, blob_file):
    reader, writer = os.environ["READER"], os.environ["WRITER"]
    reader_token = "Bearer " + os.environ["READER_TOKEN"]
    admin_token = "Bearer " + os.environ["ADMIN_TOKEN"]
    c = Client(base)
    # The unlimited tier: no project or chat quota stops the creates.
    for user in (reader, writer):
        c.call("POST", "/api/subscription/upgrade", admin_token, {"userId": user, "newTier": "unlimited"})
    project_id = None
    for i in range(SEED_PROJECTS):
        p = c.call("POST", "/api/music/project/create", reader_token, dict(project_body(i), userId=reader), expect=(200, 201))
        project_id = project_id or p["projectId"]
    blob = open(blob_file, "rb").read()
    path = f"users/{reader}/load/blob.bin"
    body, ctype = multipart({"bucket": "media", "path": path}, "file", "blob.bin", blob)
    up = c.call("POST", "/api/storage/upload", reader_token, raw=body, content_type=ctype, expect=(201,))
    cdn_path = f"/cdn/{up['bucket']}/{up['path']}"
    if c.call("GET", cdn_path, reader_token) != blob:
        sys.exit(f"error: GET {cdn_path} did not return the uploaded bytes")
    print(f"    optima: {SEED_PROJECTS} projects for {reader}, 1 MiB at {cdn_path}", file=sys.stderr)
    emit(O_PROJECT_ID=project_id, O_CDN_PATH=cdn_path)


def pocketbase(base, blob_file):
    email, password = os.environ["PB_ADMIN_EMAIL"], os.environ["PB_ADMIN_PASSWORD"]
    c = Client(base)
    su = c.call("POST", "/api/collections/_superusers/auth-with-password", body={"identity": email, "password": password})["token"]
    # Its defaults, spelled out: no rate limiter (as optima runs here); a file token (the only way to
    # read a protected file) lasting a day instead of 3 minutes, so one serves a whole run.
    c.call("PATCH", "/api/settings", su, {"rateLimits": {"enabled": False}})
    users = c.call("PATCH", "/api/collections/users", su, {"fileToken": {"duration": 86400}})

    own = "user = @request.auth.id"
    create_own = '@request.auth.id != "" && @request.body.user = @request.auth.id'
    user_field = {"name": "user", "type": "relation", "required": True, "collectionId": users["id"], "maxSelect": 1, "cascadeDelete": True}
    stamps = [
        {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
        {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
    ]
    text = lambda name, maximum, required=False: {"name": name, "type": "text", "max": maximum, "required": required}  # noqa: E731
    # optima's music_projects, with the same index for a user's list by recency.
    c.call("POST", "/api/collections", su, {
        "name": "projects", "type": "base", "listRule": own, "viewRule": own, "createRule": create_own,
        "fields": [
            user_field, text("title", 500, True), text("genre", 100),
            {"name": "bpm", "type": "number", "onlyInt": True, "min": 40, "max": 200},
            text("key", 20), text("mood", 100),
            {"name": "status", "type": "select", "maxSelect": 1, "values": ["draft", "generating", "ready", "failed", "archived"]},
            {"name": "visibility", "type": "select", "maxSelect": 1, "values": ["private", "public"]},
            {"name": "stem_count", "type": "number", "onlyInt": True},
            {"name": "total_plays", "type": "number", "onlyInt": True},
        ] + stamps,
        "indexes": ["CREATE INDEX idx_projects_user_updated ON projects (user, updated)"],
    })
    c.call("POST", "/api/collections", su, {
        "name": "chat_messages", "type": "base", "listRule": own, "viewRule": own, "createRule": create_own,
        "fields": [user_field, text("session", 64), text("role", 16, True), text("content", 100000, True)] + stamps,
        "indexes": ["CREATE INDEX idx_chat_messages_session ON chat_messages (session, created)"],
    })
    # A protected file field: read only with a file token of a user whom viewRule lets see the record.
    c.call("POST", "/api/collections", su, {
        "name": "assets", "type": "base", "listRule": own, "viewRule": own,
        "fields": [user_field, {"name": "file", "type": "file", "maxSelect": 1, "maxSize": 5 * 1024 * 1024, "protected": True}] + stamps,
    })

    out = {}
    for role in ("reader", "writer"):
        user_email = f"load-{role}@load.test"
        u = c.call("POST", "/api/collections/users/records", su, {
            "email": user_email, "password": password, "passwordConfirm": password, "verified": True,
        })
        token = c.call("POST", "/api/collections/users/auth-with-password", body={"identity": user_email, "password": password})["token"]
        out[role] = (u["id"], token)
    reader_id, reader_token = out["reader"]
    writer_id, writer_token = out["writer"]

    project_id = None
    for i in range(SEED_PROJECTS):
        p = c.call("POST", "/api/collections/projects/records", reader_token,
                   dict(project_body(i), user=reader_id, status="draft", visibility="private", stem_count=0, total_plays=0))
        project_id = project_id or p["id"]
    blob = open(blob_file, "rb").read()
    body, ctype = multipart({"user": reader_id}, "file", "blob.bin", blob)
    asset = c.call("POST", "/api/collections/assets/records", su, raw=body, content_type=ctype)
    file_token = c.call("POST", "/api/files/token", reader_token)["token"]
    file_path = f"/api/files/assets/{asset['id']}/{asset['file']}?token={file_token}"
    if c.call("GET", file_path) != blob:
        sys.exit(f"error: GET {file_path} did not return the uploaded bytes")
    print(f"    pocketbase: {SEED_PROJECTS} projects for {reader_id}, 1 MiB at /api/files/assets/{asset['id']}/{asset['file']}", file=sys.stderr)
    emit(P_READER_ID=reader_id, P_READER_TOKEN=reader_token, P_WRITER_ID=writer_id, P_WRITER_TOKEN=writer_token,
         P_PROJECT_ID=project_id, P_FILE_PATH=file_path)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("optima", "pocketbase"):
        sys.exit(__doc__)
    {"optima": optima, "pocketbase": pocketbase}[sys.argv[1]](sys.argv[2], sys.argv[3])
