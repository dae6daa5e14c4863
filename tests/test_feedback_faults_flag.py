"""The local OpenAI server's fault injection is reachable over HTTP only with the explicit test flag."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def _post_fault(url: str, key: str | None) -> int:
    base = url.rsplit("/v1", 1)[0]
    req = urllib.request.Request(base + "/_workbench/faults", data=json.dumps({"kind": "500", "count": 1}).encode(),
                                 method="POST", headers={"Content-Type": "application/json",
                                                         **({"Authorization": f"Bearer {key}"} if key else {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_fault_endpoint_is_absent_without_the_test_flag(tmp_path, tiny_model_dir):
    from workbench.openai_server import OpenAIServer

    srv = OpenAIServer(tmp_path / "server", {"tiny": tiny_model_dir}, api_key="sk-local").start()
    try:
        assert _post_fault(srv.url, "sk-local") == 404
        assert srv.faults.take("GET", "/models", kinds=("500",)) is None  # nothing was added
    finally:
        srv.stop()


def test_fault_endpoint_with_the_test_flag_needs_the_key_and_injects(tmp_path, tiny_model_dir):
    from workbench.openai_server import OpenAIServer

    srv = OpenAIServer(tmp_path / "server", {"tiny": tiny_model_dir}, api_key="sk-local", test_faults=True).start()
    try:
        assert _post_fault(srv.url, "sk-wrong") == 401
        assert _post_fault(srv.url, "sk-local") == 200
        req = urllib.request.Request(srv.url + "/models", headers={"Authorization": "Bearer sk-local"})
        try:
            urllib.request.urlopen(req, timeout=10)
            status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status == 500
    finally:
        srv.stop()


def test_serve_openai_refuses_another_address_without_a_key(tiny_model_dir, capsys):
    from workbench.cli import main

    assert main(["serve-openai", "--host", "0.0.0.0", "--model-dir", f"tiny={tiny_model_dir}", "--port", "0"]) == 1
    assert "refusing to listen on 0.0.0.0 without --api-key-env" in capsys.readouterr().err
