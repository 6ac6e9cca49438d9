"""Each provider against its peer: the fake Aliyun and OpenAI servers, real Rspamd and spamd."""

from __future__ import annotations

import json

import pytest

from oak_maillist.ai.aliyun import AliyunProvider
from oak_maillist.ai.base import ProviderError
from oak_maillist.ai.openai import OpenAiProvider
from oak_maillist.ai.spam import RspamdProvider, SpamAssassinProvider
from oak_maillist.config import AiModerationSettings
from tests.ai import fake_openai
from tests.ai.conftest import aliyun_config
from tests.ai.fake_aliyun import FakeAliyun
from tests.ai.fake_openai import FakeOpenAi

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def mail(body: str, subject: str = "Release plan") -> bytes:
    return (
        "From: Alice <alice@example.com>\r\nTo: dev@lists.example.org\r\n"
        f"Subject: {subject}\r\nMessage-ID: <p1@example.com>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("text", "score", "level", "labels", "words"),
    [
        ("Visit my casino tonight", 92, "high", ["contraband_gambling"], ["casino"]),
        ("You idiot", 64, "medium", ["inappropriate_profanity"], ["idiot"]),
        ("Free money for you", 35, "low", ["pt_by_recruitment"], ["free money"]),
        ("The release is on Friday", 0, "none", [], []),
    ],
)
async def test_aliyun_verdicts_keep_level_labels_and_risk_words(
    aliyun: FakeAliyun, text: str, score: int, level: str, labels: list[str], words: list[str]
) -> None:
    verdict = await AliyunProvider(aliyun_config(aliyun.url), timeout=5).check("Hi", text, b"")
    assert (verdict.score, verdict.level, verdict.labels, verdict.risk_words) == (
        score,
        level,
        labels,
        words,
    )
    assert verdict.raw["answers"][0]["Code"] == 200
    content = json.loads(aliyun.calls[0]["params"]["ServiceParameters"])["content"]
    assert content == f"Hi\n\n{text}"


async def test_aliyun_splits_long_text_and_the_worst_piece_wins(aliyun: FakeAliyun) -> None:
    filler = "All good here. " * 140  # 2100 characters a paragraph
    text = f"{filler}\n{filler}\nYou idiot, {filler}\nThe casino is open."
    verdict = await AliyunProvider(aliyun_config(aliyun.url), timeout=5).check("", text, b"")
    pieces = [json.loads(c["params"]["ServiceParameters"])["content"] for c in aliyun.calls]
    assert len(pieces) == 4  # 6,300 characters
    assert all(0 < len(piece) <= 2000 for piece in pieces)
    assert sorted(" ".join(pieces).split()) == sorted(text.split())  # nothing lost or added
    assert (verdict.score, verdict.level) == (92, "high")
    assert verdict.labels == ["inappropriate_profanity", "contraband_gambling"]


@pytest.mark.parametrize(
    ("script", "code", "retryable"),
    [
        (("code", 588), "588", True),  # QPS exceeded
        (("code", 581), "581", True),  # timeout inside the service
        (("code", 400), "400", False),  # bad parameters
        (("http", 503), "ServiceUnavailable", True),
        (("garbage", 502), "http_502", True),
    ],
)
async def test_aliyun_errors_say_whether_to_retry(
    aliyun: FakeAliyun, script: tuple[str, float], code: str, retryable: bool
) -> None:
    aliyun.script.append(script)
    with pytest.raises(ProviderError) as caught:
        await AliyunProvider(aliyun_config(aliyun.url), timeout=5).check("", "text", b"")
    assert (caught.value.code, caught.value.retryable) == (code, retryable)


async def test_aliyun_refused_signature_is_not_retried(aliyun: FakeAliyun) -> None:
    config = aliyun_config(aliyun.url, access_key_secret="wrong-secret")
    with pytest.raises(ProviderError) as caught:
        await AliyunProvider(config, timeout=5).check("", "text", b"")
    assert (caught.value.code, caught.value.retryable) == ("SignatureDoesNotMatch", False)
    assert "wrong-secret" not in str(caught.value)


async def test_aliyun_slow_answer_times_out(aliyun: FakeAliyun) -> None:
    aliyun.script.append(("delay", 3))
    with pytest.raises(ProviderError) as caught:
        await AliyunProvider(aliyun_config(aliyun.url), timeout=0.5).check("", "text", b"")
    assert (caught.value.code, caught.value.retryable) == ("timeout", True)


def openai_config(url: str, **overrides: object) -> AiModerationSettings:
    values = {
        "enabled": True,
        "provider": "openai",
        "endpoint": f"{url}/v1",
        "api_key": fake_openai.API_KEY,
    }
    return AiModerationSettings.model_validate(values | overrides)


async def test_openai_moderations_scores_the_worst_category(openai: FakeOpenAi) -> None:
    provider = OpenAiProvider(openai_config(openai.url), timeout=5)
    risky = await provider.check("Hi", "I will kill you", b"")
    clean = await provider.check("Hi", "See you at the meetup", b"")
    assert (risky.score, risky.level, risky.labels) == (93, "flagged", ["violence"])
    assert (clean.score, clean.level, clean.labels) == (0, "none", [])
    assert openai.calls[0] == {
        "model": "omni-moderation-latest",
        "input": ["Hi\n\nI will kill you"],
    }


async def test_openai_chat_variant_answers_with_a_json_schema_verdict(openai: FakeOpenAi) -> None:
    provider = OpenAiProvider(
        openai_config(openai.url, openai_mode="chat", model="qwen2.5-7b-instruct"), timeout=5
    )
    verdict = await provider.check("Hi", "you idiot", b"")
    assert (verdict.score, verdict.labels, verdict.risk_words) == (62, ["harassment"], ["idiot"])
    request = openai.calls[0]
    assert request["model"] == "qwen2.5-7b-instruct"
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["strict"] is True


async def test_openai_wrong_key_is_refused_and_not_retried(openai: FakeOpenAi) -> None:
    provider = OpenAiProvider(openai_config(openai.url, api_key="sk-wrong-key"), timeout=5)
    with pytest.raises(ProviderError) as caught:
        await provider.check("", "text", b"")
    assert (caught.value.code, caught.value.retryable) == ("invalid_api_key", False)
    openai.script.append(("http", 429))
    with pytest.raises(ProviderError) as limited:
        await OpenAiProvider(openai_config(openai.url), timeout=5).check("", "text", b"")
    assert (limited.value.code, limited.value.retryable) == ("rate_limit_exceeded", True)


def spam_config(provider: str, endpoint: str) -> AiModerationSettings:
    return AiModerationSettings(enabled=True, provider=provider, endpoint=endpoint)  # type: ignore[arg-type]


async def test_rspamd_flags_gtube_and_passes_a_clean_message(rspamd: str) -> None:
    provider = RspamdProvider(spam_config("rspamd", rspamd), timeout=10)
    spam = await provider.check("", "", mail(GTUBE, "Test"))
    ham = await provider.check("", "", mail("The release is on Friday. See you there."))
    assert (spam.level, spam.score) == ("reject", 80)
    assert spam.labels == ["GTUBE"]
    assert ham.level in ("no action", "greylist", "soft reject")
    assert ham.score < 50


async def test_spamassassin_flags_gtube_and_passes_a_clean_message(spamd: str) -> None:
    provider = SpamAssassinProvider(spam_config("spamassassin", spamd), timeout=20)
    spam = await provider.check("", "", mail(GTUBE, "Test"))
    ham = await provider.check("", "", mail("The release is on Friday. See you there."))
    assert (spam.level, spam.score) == ("spam", 100)
    assert "GTUBE" in spam.labels
    assert ham.level == "ham"
    assert ham.score < 50


async def test_spam_engines_learn_feedback(rspamd: str, spamd: str) -> None:
    text = "Quarterly planning notes for the infrastructure team. " * 8
    assert await RspamdProvider(spam_config("rspamd", rspamd), timeout=10).learn(
        mail(text), spam=False
    )
    assert await SpamAssassinProvider(spam_config("spamassassin", spamd), timeout=20).learn(
        mail(text), spam=False
    )


async def test_unreachable_spam_engines_fail_retryably() -> None:
    rspamd = RspamdProvider(spam_config("rspamd", "http://127.0.0.1:9"), timeout=2)
    spamd = SpamAssassinProvider(spam_config("spamassassin", "127.0.0.1:9"), timeout=2)
    for provider in (rspamd, spamd):
        with pytest.raises(ProviderError) as caught:
            await provider.check("", "", mail("hello"))
        assert (caught.value.code, caught.value.retryable) == ("unreachable", True)


async def test_a_post_without_text_is_not_sent(aliyun: FakeAliyun, openai: FakeOpenAi) -> None:
    for provider in (
        AliyunProvider(aliyun_config(aliyun.url), timeout=5),
        OpenAiProvider(openai_config(openai.url), timeout=5),
    ):
        verdict = await provider.check("", "  \n", b"")
        assert (verdict.score, verdict.level) == (0, "none")
    assert (aliyun.calls, openai.calls) == ([], [])
