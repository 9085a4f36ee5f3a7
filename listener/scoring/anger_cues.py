"""Surface cues of a furious customer, for the anger head beside the model's own features.

The model's [CLS] state separates furious from mildly annoyed posts well in the languages it saw
most, less well in short posts and in languages it saw little of. These cues hold everywhere:
words of fury, contempt and threat (per language, matched as stems on lower-cased text without
diacritics), rage emoji, shouting in capitals and runs of ``!``/``?``; and two that speak
against fury: hedges of mild disappointment ("a bit", "unfortunately") and sad or weary emoji.
The anger head learns how much each counts (scripts/model/train_anger.py); they never make a
positive post angry, because anger is also gated by the negative probability.
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
# Stems of hedging and mild disappointment ("a bit", "unfortunately", "disappointed"): a customer
# who softens the complaint is rarely furious. Matched like the fury stems.
_HEDGE_STEMS = {
    "en": "a bit, a little, slightly, kinda, kind of, somewhat, meh$, disappoint, unfortunately, "
    "shame$, pity, bummer, expected better, not ideal, could be better",
    "pl": "troche, nieco, szkoda, niestety, rozczarow, zawiod, srednio, mogloby byc lepiej",
    "lv": "mazliet, nedaudz, diemzel, zel$, vilos, vilies, videji, varetu but labak",
    "lt": "siek tiek, truputi, deja, gaila, nusivyl, vidutin, galetu buti geriau",
    "sl": "malo$, nekoliko, skoda, na zalost, zal mi, razocar, povprecn, bi lahko bilo bolje",
    "he": "קצת, חבל, לצערי, מאוכזב, התאכזב, בינוני",
    "de": "etwas, bisschen, leider, schade, enttausch, mittelmass, nicht ideal",
    "fr": "un peu, legerement, dommage, malheureusement, decu, decevant, bof$, moyen",
    "es": "un poco, un poquito, lastima, pena$, lamentablemente, decepcion, regular$",
    "it": "un po, peccato, purtroppo, delus, deludent, non il massimo",
    "pt": "um pouco, pena$, infelizmente, decepcion, mais ou menos",
    "nl": "beetje, jammer, helaas, teleurgesteld, teleurstell, niet echt",
    "ru": "немного, слегка, жаль, к сожалению, разочарова, так себе",
    "uk": "трохи, шкода, на жаль, розчарова, так собі",
    "tr": "biraz, maalesef, yazik, hayal kirikl, idare eder",
    "ar": "شوي, قليلا, للأسف, خسارة, خيبة, محبط",
}
_SAD_EMOJI = re.compile(
    "[\U0001f614\U0001f622\U0001f61e\U0001f615\U0001f641\u2639\U0001f61f\U0001f63f"
    "\U0001f494\U0001f40c\U0001f422\U0001f4c9\U0001f972\U0001f62d\U0001f625\U0001f613"
    "\U0001fae4\U0001f610]"
)
"""Sad, weary or slow (snail, turtle, falling chart): emoji of disappointment, not of rage."""
_RAGE_EMOJI = re.compile("[\U0001f92c\U0001f621\U0001f624\U0001f595\U0001f4a2\U0001f44e]")
_SHOUTED = re.compile(r"\b[^\W\d_]{3,}\b")
_RUNS = re.compile(r"[!?]{2,}")
CUE_NAMES = ("fury words", "rage emoji", "shouting", "!? runs", "hedges", "sad emoji")
"""A head trained before the last two existed reads only the first four (anger.py)."""


def _fold(text: str) -> str:
    """Lower-cased, Latin diacritics removed (Hebrew, Arabic and Cyrillic kept as they are)."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    kept = (c for c in decomposed if not ("\u0300" <= c <= "\u036f"))
    return unicodedata.normalize("NFC", "".join(kept)).replace("ł", "l").replace("đ", "d")


def _pattern(table: dict[str, str]) -> re.Pattern[str]:
    parts = []
    for stems in table.values():
        for stem in (s.strip() for s in _fold(stems).split(",")):
            whole = stem.endswith("$")
            body = re.escape(stem.rstrip("$")).replace("\\ ", r"\s+")
            parts.append(body + (r"(?!\w)" if whole else ""))
    # One look-behind for all stems: the alternatives are tried only where a word starts.
    return re.compile(r"(?<!\w)(?:" + "|".join(sorted(parts, key=len, reverse=True)) + ")")


_FURY = _pattern(_STEMS)
_HEDGES = _pattern(_HEDGE_STEMS)


def cue_features(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """One row per text: fury-word hits, rage emoji, words shouted in capitals, runs of !/?,
    hedges, sad emoji; each capped at 3 and scaled to [0, 1]."""
    out = np.zeros((len(texts), len(CUE_NAMES)), dtype=np.float32)
    for i, text in enumerate(texts):
        folded = _fold(text)
        shouted = sum(1 for w in _SHOUTED.findall(text) if w.isupper())
        out[i] = (
            len(_FURY.findall(folded)),
            len(_RAGE_EMOJI.findall(text)),
            shouted,
            len(_RUNS.findall(text)),
            len(_HEDGES.findall(folded)),
            len(_SAD_EMOJI.findall(text)),
        )
    return (np.minimum(out, 3.0) / 3.0).astype(np.float32)
