#!/usr/bin/env python3
"""The MSRV check: no dependency a library crate builds with (normal and build
dependencies, as resolved in Cargo.lock, with every feature on) declares a newer
`rust-version` than the crate itself. Only one toolchain exists on our machines, so
this reads the metadata instead of building with an old compiler.

Usage: python3 .ci/msrv.py [--manifest-path PATH]   (exit 1 on a violation)
"""
import json
import subprocess
import sys


def version(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def show(v):
    return ".".join(str(p) for p in v)


def main():
    host = next(
        line.split()[1]
        for line in subprocess.run(["rustc", "-vV"], check=True, capture_output=True, text=True).stdout.splitlines()
        if line.startswith("host:")
    )
    # Dependencies of this platform only (a wasm-only crate does not count on Linux).
    cmd = ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features", "--filter-platform", host]
    cmd += sys.argv[1:]
    meta = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    packages = {p["id"]: p for p in meta["packages"]}
    graph = {node["id"]: node for node in meta["resolve"]["nodes"]}
    members = set(meta["workspace_members"])
    failures = 0
    for member in sorted(members, key=lambda i: packages[i]["name"]):
        package = packages[member]
        if package.get("publish") == []:
            continue  # not published: the demo, the benches
        ours = package.get("rust_version")
        if not ours:
            print(f"{package['name']}: declares no rust-version")
            failures += 1
            continue
        # Every package reached through normal and build dependencies.
        seen, todo, needs = set(), [member], []
        while todo:
            node = graph[todo.pop()]
            for dep in node["deps"]:
                kinds = {k["kind"] for k in dep["dep_kinds"]}
                if kinds <= {"dev"} or dep["pkg"] in seen:
                    continue
                seen.add(dep["pkg"])
                todo.append(dep["pkg"])
                rv = packages[dep["pkg"]].get("rust_version")
                if rv and version(rv) > version(ours):
                    needs.append((version(rv), packages[dep["pkg"]]["name"], packages[dep["pkg"]]["version"]))
        if needs:
            failures += 1
            worst = max(needs)
            print(f"{package['name']} declares rust-version {ours}, but these dependencies need more:")
            for rv, name, v in sorted(needs, reverse=True):
                print(f"  {name} {v} needs {show(rv)}")
            print(f"  raise `rust-version` to {show(worst[0])} or pin the dependencies lower (cargo update -p NAME --precise VERSION)")
        else:
            top = max((packages[p].get("rust_version") or "0" for p in seen), key=version, default="0")
            print(f"{package['name']}: rust-version {ours} (its dependencies need at most {top})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
