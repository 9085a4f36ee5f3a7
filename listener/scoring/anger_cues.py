"""Surface cues of a furious customer, for the anger head beside the model's own features.

The model's [CLS] state separates furious from mildly annoyed posts well in the languages it saw
most, less well in short posts and in languages it saw little of. These cues hold everywhere:
words of fury, contempt and threat (per language, matched as stems on lower-cased text without
diacritics), rage emoji, shouting in capitals and runs of ``!``/``?``. The anger head learns how
much each counts (scripts/model/train_anger.py); they never make a positive post angry, because
anger is also gated by the negative probability.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

# Stems of fury, contempt, "never again", threats to leave/sue/report, and swearing, as found in
# ordinary online complaints, written without diacritics (the text is folded the same way). A
# stem matches at the start of a word; one ending in "$" matches a whole word only.
_STEMS = {
    "en": "furious, livid, fuming, pissed, outraged, disgust, disgrace, scam, thieves, thief, "
    "crooks, ripoff, rip-off, never again, fed up, sick of, had enough, unacceptable, pathetic, "
    "useless, wtf$, fuck, shit, screw you, lawyer, sue you, reporting you, done with you, "
    "garbage, incompetent, clowns, liars",
    "pl": "wsciek, wkurz, wkurw, zlodzie, oszus, oszuk, skandal, zenada, nigdy wiecej, mam dosc, "
    "kpina, chamst, hanba, kurw, zglaszam, pozew, rezygnuj, dziadostw, badziew",
    "lv": "dusmig, nikn, zagli, krapniek, kauns, apnicis, apnika, pietiek, nekad vairs, "
    "vairs nekad, mesl, sudi$, sudu$, pretig, riebig, sudzes, tiesa, ptac$",
    "lt": "isiut, pikta, piktas, siuti, vagys, vagis, aferist, sukci, geda, nesamon, "
    "daugiau niekada, niekada daugiau, gana$, atsibodo, slyksc, bjaur, teism, skusi",
    "sl": "jezen, jezna, besen, besna, tatov, lopov, prevarant, sramot, nikoli vec, dovolj$, "
    "sit sem, sita sem, sranje, tozb, prijavi",
    "he": "כועס, רותח, עצבני, זועם, נוכלים, גנבים, בושה, חוצפה, לעולם לא, נמאס, תביעה, "
    "שערורי, זבל, חרא, רמאים",
    "de": "wutend, stinksauer, frechheit, betruger, abzocke, diebe, nie wieder, schande, "
    "unverschamt, scheiss, verarsch, anwalt, kundige, reicht$",
    "fr": "furieu, enerve, honte, scandale, arnaque, voleur, escroc, plus jamais, ras le bol, "
    "marre, inadmissible, putain, merde, foutage, avocat, plainte, resilie",
    "es": "furios, cabread, indignad, verguenza, estafa, ladron, timo$, nunca mas, harto, "
    "basta$, inaceptable, mierda, joder, denuncia, abogado",
    "it": "furios, incazzat, arrabbiat, vergogna, truffa, ladri$, mai piu, basta$, schifo, "
    "inaccettabile, cazzo, denuncia, avvocato",
    "pt": "furios, revoltad, puto$, puta$, vergonha, golpe, ladroes, nunca mais, chega$, farto, "
    "inaceitavel, merda, porra, processo, procon",
    "nl": "woest, boos$, kwaad, schande, oplichter, dieven, nooit meer, belachelijk, kut, klote, "
    "advocaat",
    "ru": "бешен, ярост, позор, мошенник, воры, никогда больше, достали, надоело, хамств, "
    "задолбал, бля, жалоб, суд$, в суд",
    "uk": "лют, злий, ганьба, шахра, злодії, ніколи більше, набридло, досить, хамств, скарг, "
    "суд$, до суду",
    "tr": "sinir, ofke, rezalet, dolandirici, hirsiz, bir daha asla, yeter, biktim, sikayet, dava$",
    "ar": "غاضب, غضب, حرامي, نصاب, فضيحة, لن أتعامل, كفاية, زهقت, مقرف, شكوى, محكمة",
}
_RAGE_EMOJI = re.compile("[\U0001f92c\U0001f621\U0001f624\U0001f595\U0001f4a2\U0001f44e]")
_SHOUTED = re.compile(r"\b[^\W\d_]{3,}\b")
_RUNS = re.compile(r"[!?]{2,}")
CUE_NAMES = ("fury words", "rage emoji", "shouting", "!? runs")


def _fold(text: str) -> str:
    """Lower-cased, Latin diacritics removed (Hebrew, Arabic and Cyrillic kept as they are)."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    kept = (c for c in decomposed if not ("\u0300" <= c <= "\u036f"))
    return unicodedata.normalize("NFC", "".join(kept)).replace("ł", "l").replace("đ", "d")


def _pattern() -> re.Pattern[str]:
    parts = []
    for stems in _STEMS.values():
        for stem in (s.strip() for s in _fold(stems).split(",")):
            whole = stem.endswith("$")
            body = re.escape(stem.rstrip("$")).replace("\\ ", r"\s+")
            parts.append(rf"(?<!\w){body}" + (r"(?!\w)" if whole else ""))
    return re.compile("|".join(sorted(parts, key=len, reverse=True)))


_FURY = _pattern()


def cue_features(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """One row per text: fury-word hits, rage emoji, words shouted in capitals, runs of !/?;
    each capped at 3 and scaled to [0, 1]."""
    out = np.zeros((len(texts), len(CUE_NAMES)), dtype=np.float32)
    for i, text in enumerate(texts):
        shouted = sum(1 for w in _SHOUTED.findall(text) if w.isupper())
        out[i] = (
            len(_FURY.findall(_fold(text))),
            len(_RAGE_EMOJI.findall(text)),
            shouted,
            len(_RUNS.findall(text)),
        )
    return (np.minimum(out, 3.0) / 3.0).astype(np.float32)
