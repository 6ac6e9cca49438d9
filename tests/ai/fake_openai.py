"""A fake OpenAI-compatible server: /v1/moderations and /v1/chat/completions.

It checks the bearer key, the model and the input as the real API does, and answers in its
shapes: moderation `results` with `flagged`, `categories`, `category_scores`; chat completions
with `choices[0].message.content`; errors as `{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_KEY = "sk-fake-0123456789abcdef"
CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
TRIGGERS = {"kill you": ("violence", 0.93), "idiot": ("harassment", 0.62)}


def _error(
    status: int, message: str, kind: str, code: str | None, param: str | None = None
) -> Response:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status)


def _scores(text: str) -> dict[str, float]:
    scores = dict.fromkeys(CATEGORIES, 0.0001)
    for word, (category, score) in TRIGGERS.items():
        if word in text.lower():
            scores[category] = max(scores[category], score)
    return scores


@dataclass
class FakeOpenAi:
    url: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    script: list[tuple[str, float]] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/moderations", self.moderations, methods=["POST"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
            ]
        )

    async def _common(self, request: Request) -> dict[str, Any] | Response:
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {API_KEY}":
            shown = auth.removeprefix("Bearer ")[:3] + "*" * 4
            return _error(
                401,
                f"Incorrect API key provided: {shown}.",
                "invalid_request_error",
                "invalid_api_key",
            )
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(
                400,
                "We could not parse the JSON body of your request.",
                "invalid_request_error",
                None,
            )
        self.calls.append(body)
        if self.script:
            kind, value = self.script.pop(0)
            if kind == "delay":
                await asyncio.sleep(value)
            elif kind == "http":
                code = "rate_limit_exceeded" if value == 429 else None
                return _error(int(value), "The server had an error", "server_error", code)
        if not isinstance(body.get("model"), str) or not body["model"]:
            return _error(
                400, "you must provide a model parameter", "invalid_request_error", None, "model"
            )
        found: dict[str, Any] = body
        return found

    async def moderations(self, request: Request) -> Response:
        body = await self._common(request)
        if isinstance(body, Response):
            return body
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if (
            not isinstance(inputs, list)
            or not inputs
            or not all(isinstance(i, str) for i in inputs)
        ):
            return _error(
                400, "'input' is a required property", "invalid_request_error", None, "input"
            )
        results = []
        for text in inputs:
            scores = _scores(text)
            categories = {name: score >= 0.5 for name, score in scores.items()}
            results.append(
                {
                    "flagged": any(categories.values()),
                    "categories": categories,
                    "category_scores": scores,
                    "category_applied_input_types": {name: ["text"] for name in CATEGORIES},
                }
            )
        return JSONResponse(
            {"id": f"modr-{uuid.uuid4().hex[:24]}", "model": body["model"], "results": results}
        )

    async def chat(self, request: Request) -> Response:
        body = await self._common(request)
        if isinstance(body, Response):
            return body
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(
                400, "'messages' is a required property", "invalid_request_error", None, "messages"
            )
        schema = (body.get("response_format") or {}).get("json_schema") or {}
        if body["response_format"].get("type") != "json_schema" or "schema" not in schema:
            return _error(
                400, "response_format json_schema is required", "invalid_request_error", None
            )
        text = " ".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
        scores = _scores(text)
        worst = max(scores, key=lambda k: scores[k])
        hit = scores[worst] >= 0.5
        verdict = {
            "score": round(scores[worst] * 100) if hit else 3,
            "labels": [worst] if hit else [],
            "risk_words": [w for w in TRIGGERS if w in text.lower()],
        }
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": json.dumps(verdict),
                            "refusal": None,
                        },
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70},
            }
        )
