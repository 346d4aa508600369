#!/usr/bin/env python3
"""A real MCP client (the official `mcp` Python SDK) driving `runbook mcp` or `runbook serve`'s
/mcp for the integration tests in tests/mcp.rs.

    python3 tests/mcp_client.py [--mode legacy|auto] stdio BIN ARGS...
    python3 tests/mcp_client.py [--mode legacy|auto] http URL

Reads a JSON list of operations on stdin, runs them in one session, and prints a JSON list with
one result per operation on stdout:

    {"op": "tools"}                                      the tools as listed
    {"op": "call", "tool": NAME, "args": {...}, "save": KEY}   a tool call
    {"op": "resources"}                                  every resource, following cursors
    {"op": "templates"}                                  resource templates
    {"op": "read", "uri": URI}                           one resource
    {"op": "write", "path": PATH, "text": TEXT}          write a file (relative to the cwd)

A call with "until_hits": SECONDS is repeated until its result has search hits, for as long.

A string argument "@KEY.field.sub" is replaced by that field of the structured result saved under
KEY. Each result is {"ok": ...}, {"error": {"code", "message"}} for an MCP error, or
{"exception": "..."} for anything else; the assertions are the Rust test's.
"""

import argparse
import asyncio
import json
import os
import sys

import mcp_types
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

CLIENT = mcp_types.Implementation(name="runbook-tests", version="1.0")


def resolve(value, saved):
    if isinstance(value, str) and value.startswith("@"):
        key, *path = value[1:].split(".")
        found = saved[key]
        for part in path:
            found = found[int(part)] if isinstance(found, list) else found[part]
        return found
    if isinstance(value, dict):
        return {k: resolve(v, saved) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, saved) for v in value]
    return value


async def run_op(client, op, saved):
    kind = op["op"]
    if kind == "tools":
        listed = await client.list_tools()
        return [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema}
            for t in listed.tools
        ]
    if kind == "call":
        deadline = asyncio.get_running_loop().time() + op.get("until_hits", 0)
        while True:
            result = await client.call_tool(op["tool"], resolve(op.get("args"), saved))
            hits = (result.structured_content or {}).get("hits")
            if hits or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.1)
        text = "".join(c.text for c in result.content if getattr(c, "type", "") == "text")
        if op.get("save"):
            saved[op["save"]] = result.structured_content
        return {"is_error": bool(result.is_error), "text": text, "structured": result.structured_content}
    if kind == "resources":
        resources, cursor, pages = [], None, 0
        while True:
            page = await client.list_resources(cursor=cursor)
            pages += 1
            resources += [
                {"uri": r.uri, "name": r.name, "title": r.title, "description": r.description,
                 "mime_type": r.mime_type}
                for r in page.resources
            ]
            cursor = page.next_cursor
            if not cursor:
                return {"pages": pages, "resources": resources}
    if kind == "templates":
        listed = await client.list_resource_templates()
        return [{"uri_template": t.uri_template, "name": t.name} for t in listed.resource_templates]
    if kind == "write":
        os.makedirs(os.path.dirname(op["path"]) or ".", exist_ok=True)
        with open(op["path"], "w", encoding="utf-8") as f:
            f.write(op["text"])
        return None
    if kind == "read":
        read = await client.read_resource(op["uri"])
        return [{"uri": c.uri, "mime_type": c.mime_type, "text": getattr(c, "text", None)} for c in read.contents]
    raise ValueError(f"unknown op {kind!r}")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="auto", choices=["legacy", "auto"])
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("target", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    if options.transport == "stdio":
        server = StdioServerParameters(command=options.target[0], args=options.target[1:], env=dict(os.environ))
    else:
        server = options.target[0]
    ops = json.load(sys.stdin)
    results, saved = [], {}
    async with Client(server, client_info=CLIENT, mode=options.mode, cache=None) as client:
        for op in ops:
            try:
                results.append({"ok": await run_op(client, op, saved)})
            except MCPError as err:
                results.append({"error": {"code": err.code, "message": err.message}})
            except Exception as err:  # the test shows it; a crash of the session shows as well
                results.append({"exception": f"{type(err).__name__}: {err}"})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    asyncio.run(main())
