"""``workbench plugins``: what is loaded, from where, and what it registered."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("plugins", help="list loaded plugins and their components")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--options", action="store_true", help="include each component's options schema")
    p.set_defaults(func=run)


def run(args) -> int:
    from workbench.runtime.discovery import get_host

    host = get_host()
    info = host.info()
    if args.options:
        for plugin in info:
            for comp in plugin["components"]:
                comp["options"] = host.registry.get(comp["kind"], comp["name"]).options_schema()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for plugin in info:
        if plugin.get("failed"):
            print(f"{plugin['name']} FAILED ({plugin['source']}: {plugin['path']})")
            print(f"  error: {plugin['error']}")
            continue
        print(f"{plugin['name']} {plugin['version'] or ''} ({plugin['source']}: {plugin['path']})")
        print(f"  hooks: {', '.join(plugin['hooks'])}")
        for comp in plugin["components"]:
            desc = host.registry.get(comp["kind"], comp["name"]).description
            print(f"  {comp['kind']:<10} {comp['name']:<24} {desc}")
    return 0
