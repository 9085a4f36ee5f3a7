"""Write models/data/train/verdicts.jsonl: short verdicts and first-person feelings, composed.

    .venv/bin/python scripts/model/verdicts.py

The 2.0 model got 10% of its own short training mentions wrong and read plain two-word verdicts
("Okropna obsługa.", "Šausmīgs serviss!") and first-person anger ("esmu dusmīgs", "zelo sem
jezen") as positive: a few hundred written short posts per language do not teach the basic
words. This composes them from hand-written, gender-agreeing word lists of the promised
languages (what a customer types in two to six words): an adjective and a thing ("serviss" is
masculine, "apkalpošana" feminine), an optional intensifier, a feeling in the first person (both
genders), an event before it, a brand, and the punctuation and emoji of real posts. Labels come
with the words: furious feelings, "never again" and rage emoji are angry (anger 1); a plain
"Terrible service." or "I'm disappointed" is negative but not angry. Seeded; texts that also
appear in the held-out set are left out.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import DATA, SEED, heldout

PER_LANGUAGE = 300


@dataclass(frozen=True)
class Words:
    """One language's word lists. Nouns map to a gender key; adjectives give one form per
    gender key (a single form where the language does not inflect it)."""

    nouns: dict[str, str]
    bad: list[dict[str, str]]
    good: list[dict[str, str]]
    very: list[str]
    furious: list[str]  # first person, angry
    let_down: list[str]  # first person, negative, not angry
    pleased: list[str]  # first person, positive
    never: list[str]  # "never again"
    events: list[str]  # what a brand did ("cancelled my flight"), before a feeling
    brands: list[str]
    copula: dict[str, str]  # "the service WAS great", by the noun's gender
    noun_first: bool = False  # Hebrew: "שירות נוראי"
    the: str = ""  # Hebrew's article prefix in "השירות היה מעולה"


def _g(m: str, f: str, n: str | None = None) -> dict[str, str]:
    forms = {"m": m, "f": f}
    if n is not None:
        forms["n"] = n
    return forms


WORDS: dict[str, Words] = {
    "en": Words(
        copula={"m": "was"},
        nouns={w: "m" for w in ["service", "delivery", "app", "support", "food", "quality"]},
        bad=[_g(a, a) for a in ["Terrible", "Awful", "Horrible", "Bad", "Dreadful", "Useless"]],
        good=[
            _g(a, a)
            for a in ["Great", "Excellent", "Amazing", "Lovely", "Wonderful", "Friendly", "Fast"]
        ],
        very=["Really", "So", "Absolutely"],
        furious=["I'm furious", "I am so angry", "absolutely livid", "I'm fuming"],
        let_down=["I'm disappointed", "a bit let down", "not impressed"],
        pleased=["I'm so happy", "really pleased", "love it", "I love this app", "love this place"],
        never=["never again", "Never again!"],
        events=["cancelled my flight", "lost my parcel", "charged me twice", "ignored my refund"],
        brands=["Aurora Air", "ParcelPro", "Brightbank"],
    ),
    "lv": Words(
        copula={"m": "ir", "f": "bija"},
        nouns={
            "serviss": "m",
            "atbalsts": "m",
            "ēdiens": "m",
            "apkalpošana": "f",
            "piegāde": "f",
            "lietotne": "f",
            "kvalitāte": "f",
        },
        bad=[
            _g("briesmīgs", "briesmīga"),
            _g("šausmīgs", "šausmīga"),
            _g("slikts", "slikta"),
            _g("drausmīgs", "drausmīga"),
            _g("pretīgs", "pretīga"),
            _g("nožēlojams", "nožēlojama"),
        ],
        good=[
            _g("lielisks", "lieliska"),
            _g("izcils", "izcila"),
            _g("brīnišķīgs", "brīnišķīga"),
            _g("labs", "laba"),
            _g("foršs", "forša"),
            _g("ātrs", "ātra"),
            _g("jauks", "jauka"),
            _g("pieklājīgs", "pieklājīga"),
            _g("fantastisks", "fantastiska"),
        ],
        very=["ļoti", "vienkārši", "galīgi"],
        furious=["esmu dusmīgs", "esmu dusmīga", "esmu nikns", "esmu tik dusmīga", "esmu sašutis"],
        let_down=["esmu vīlies", "esmu vīlusies", "nedaudz žēl"],
        pleased=[
            "esmu sajūsmā",
            "esmu ļoti apmierināts",
            "esmu ļoti apmierināta",
            "man ļoti patīk šis veikals",
            "dievinu šo lietotni",
        ],
        never=["nekad vairs", "Nekad vairs!"],
        events=["atcēla manu lidojumu", "pazaudēja manu paku", "neatgrieza naudu", "atkal kavējas"],
        brands=["Aurora Air", "Zibens Kurjers", "Dzintara Banka"],
    ),
    "lt": Words(
        copula={"m": "buvo", "f": "yra"},
        nouns={
            "aptarnavimas": "m",
            "pristatymas": "m",
            "maistas": "m",
            "programėlė": "f",
            "kokybė": "f",
            "parduotuvė": "f",
        },
        bad=[
            _g("siaubingas", "siaubinga"),
            _g("blogas", "bloga"),
            _g("baisus", "baisi"),
            _g("prastas", "prasta"),
            _g("šlykštus", "šlykšti"),
            _g("apgailėtinas", "apgailėtina"),
        ],
        good=[
            _g("puikus", "puiki"),
            _g("nuostabus", "nuostabi"),
            _g("geras", "gera"),
            _g("greitas", "greita"),
            _g("super", "super"),
            _g("malonus", "maloni"),
            _g("fantastiškas", "fantastiška"),
            _g("mandagus", "mandagi"),
        ],
        very=["labai", "tiesiog", "visiškai"],
        furious=["esu piktas", "esu pikta", "esu įsiutęs", "esu įsiutusi", "esu labai piktas"],
        let_down=["esu nusivylęs", "esu nusivylusi", "gaila"],
        pleased=[
            "esu labai patenkintas",
            "esu labai patenkinta",
            "esu sužavėta",
            "dievinu šią parduotuvę",
            "labai patinka ši programėlė",
        ],
        never=["daugiau niekada", "Niekada daugiau!"],
        events=["atšaukė mano skrydį", "pametė mano siuntinį", "negrąžino pinigų", "vėl vėluoja"],
        brands=["Aurora Air", "Greitas Siuntinys", "Nemuno Bankas"],
    ),
    "pl": Words(
        copula={"m": "jest", "f": "jest", "n": "było"},
        nouns={
            "serwis": "m",
            "sklep": "m",
            "obsługa": "f",
            "dostawa": "f",
            "aplikacja": "f",
            "jakość": "f",
            "jedzenie": "n",
        },
        bad=[
            _g("okropny", "okropna", "okropne"),
            _g("fatalny", "fatalna", "fatalne"),
            _g("beznadziejny", "beznadziejna", "beznadziejne"),
            _g("tragiczny", "tragiczna", "tragiczne"),
            _g("słaby", "słaba", "słabe"),
            _g("żenujący", "żenująca", "żenujące"),
        ],
        good=[
            _g("świetny", "świetna", "świetne"),
            _g("doskonały", "doskonała", "doskonałe"),
            _g("rewelacyjny", "rewelacyjna", "rewelacyjne"),
            _g("dobry", "dobra", "dobre"),
            _g("szybki", "szybka", "szybkie"),
            _g("super", "super", "super"),
            _g("cudowny", "cudowna", "cudowne"),
            _g("wspaniały", "wspaniała", "wspaniałe"),
            _g("miły", "miła", "miłe"),
        ],
        very=["bardzo", "naprawdę", "totalnie"],
        furious=["jestem wściekły", "jestem wściekła", "jestem wkurzony", "jestem zła"],
        let_down=["jestem rozczarowany", "jestem rozczarowana", "szkoda"],
        pleased=[
            "jestem zachwycony",
            "jestem zachwycona",
            "jestem bardzo zadowolona",
            "uwielbiam ten sklep",
            "uwielbiam tę aplikację",
            "uwielbiam ich obsługę",
            "uwielbiam to miejsce",
        ],
        never=["nigdy więcej", "Nigdy więcej!"],
        events=[
            "odwołał mój lot",
            "zgubił moją paczkę",
            "nie zwrócił pieniędzy",
            "znowu się spóźnia",
        ],
        brands=["Aurora Air", "PaczkaTeraz", "Bank Wisła"],
    ),
    "sl": Words(
        copula={"m": "je", "f": "je"},
        nouns={
            "servis": "m",
            "paket": "m",
            "storitev": "f",
            "dostava": "f",
            "aplikacija": "f",
            "hrana": "f",
            "podpora": "f",
        },
        bad=[
            _g("grozen", "grozna"),
            _g("slab", "slaba"),
            _g("obupen", "obupna"),
            _g("katastrofalen", "katastrofalna"),
            _g("beden", "bedna"),
            _g("zanič", "zanič"),
        ],
        good=[
            _g("odličen", "odlična"),
            _g("fantastičen", "fantastična"),
            _g("dober", "dobra"),
            _g("hiter", "hitra"),
            _g("vrhunski", "vrhunska"),
            _g("super", "super"),
            _g("čudovit", "čudovita"),
            _g("prijazen", "prijazna"),
        ],
        very=["zelo", "res", "čisto"],
        furious=["jezen sem", "jezna sem", "zelo sem jezen", "besna sem", "besen sem"],
        let_down=["razočaran sem", "razočarana sem", "škoda"],
        pleased=[
            "zelo sem zadovoljen",
            "zelo sem zadovoljna",
            "navdušena sem",
            "obožujem to trgovino",
            "obožujem to aplikacijo",
        ],
        never=["nikoli več", "Nikoli več!"],
        events=["je odpovedal moj let", "je izgubil moj paket", "ni vrnil denarja", "spet zamuja"],
        brands=["Aurora Air", "Hitri Paket", "Banka Sava"],
    ),
    "he": Words(
        copula={"m": "היה", "f": "הייתה"},
        the="ה",
        nouns={"שירות": "m", "משלוח": "m", "אוכל": "m", "אפליקציה": "f", "תמיכה": "f", "חנות": "f"},
        bad=[
            _g("נוראי", "נוראית"),
            _g("גרוע", "גרועה"),
            _g("מחריד", "מחרידה"),
            _g("איום", "איומה"),
            _g("מזעזע", "מזעזעת"),
            _g("עלוב", "עלובה"),
        ],
        good=[
            _g("מעולה", "מעולה"),
            _g("מצוין", "מצוינת"),
            _g("נהדר", "נהדרת"),
            _g("טוב", "טובה"),
            _g("מהיר", "מהירה"),
            _g("מדהים", "מדהימה"),
            _g("נפלא", "נפלאה"),
            _g("אדיב", "אדיבה"),
        ],
        very=["ממש", "פשוט", "כל כך"],
        furious=["אני כועס", "אני כועסת", "אני ממש עצבני", "אני זועמת", "אני רותח"],
        let_down=["אני מאוכזב", "אני מאוכזבת", "חבל"],
        pleased=[
            "אני ממש מרוצה",
            "אני מרוצה מאוד",
            "פשוט אהבתי",
            "אני אוהב את החנות הזאת",
            "אני מתה על האפליקציה הזאת",
        ],
        never=["לעולם לא עוד", "לא עוד!"],
        events=["ביטלו לי את הטיסה", "איבדו לי את החבילה", "לא החזירו לי כסף", "שוב מאחרים"],
        brands=["אורורה אייר", "חבילה מהירה", "בנק הכרמל"],
        noun_first=True,
    ),
}

CALM = ["", ".", "!"]
ANGRY_TAIL = ["!!!", " 😡", " 🤬", "!!! 😡"]
GOOD_TAIL = ["", "!", " 👍", " 😍", "!! ❤️"]


def _phrase(w: Words, adj: dict[str, str], noun: str, very: str | None) -> str:
    form = adj[w.nouns[noun]] if w.nouns[noun] in adj else adj["m"]
    if very:
        form = f"{very} {form}"
    return f"{noun} {form}" if w.noun_first else f"{form} {noun}"


def _predicate(w: Words, adj: dict[str, str], noun: str) -> str:
    """ "the service was great": the adjective after a copula, agreeing with the noun."""
    gender = w.nouns[noun]
    form = adj.get(gender, adj["m"]).lower()
    return f"{w.the}{noun} {w.copula.get(gender, w.copula['m'])} {form}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def compose(lang: str, w: Words, rng: random.Random) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []

    def add(text: str, label: str, anger: int, kinds: list[str]) -> None:
        rows.append(
            {"text": text, "lang": lang, "label": label, "anger": anger, "kinds": ["short", *kinds]}
        )

    nouns = list(w.nouns)
    for _ in range(PER_LANGUAGE):
        kind = rng.random()
        noun = rng.choice(nouns)
        very = rng.choice(w.very) if rng.random() < 0.3 else None
        brand = rng.choice(w.brands)
        if kind < 0.18:  # a plain negative verdict
            text = _cap(_phrase(w, rng.choice(w.bad), noun, very)) + rng.choice(CALM)
            if rng.random() < 0.3:
                text = f"{brand}: {text}"
            add(text, "negative", 0, [])
        elif kind < 0.30:  # a verdict said in fury
            text = _cap(_phrase(w, rng.choice(w.bad), noun, very))
            if rng.random() < 0.5:
                text += ", " + rng.choice(w.never).rstrip("!").lower() + "!"
            else:
                text += rng.choice(ANGRY_TAIL)
            add(text, "negative", 1, [])
        elif kind < 0.52:  # a positive verdict
            text = _cap(_phrase(w, rng.choice(w.good), noun, very)) + rng.choice(GOOD_TAIL)
            if rng.random() < 0.3:
                text = f"{brand}: {text}"
            add(text, "positive", 0, [])
        elif kind < 0.60:  # "the service was great", the same nouns in praise
            text = _cap(_predicate(w, rng.choice(w.good), noun)) + rng.choice(GOOD_TAIL)
            add(text, "positive", 0, [])
        elif kind < 0.66:  # "the service was awful"
            text = _cap(_predicate(w, rng.choice(w.bad), noun)) + rng.choice(CALM)
            add(text, "negative", 0, [])
        elif kind < 0.76:  # first-person anger, alone or after what happened
            feeling = rng.choice(w.furious)
            if rng.random() < 0.5:
                text = f"{brand} {rng.choice(w.events)}, {feeling}" + rng.choice(["", "!", "!!"])
            else:
                text = _cap(feeling) + rng.choice(["!", "!!!", " 😡", ". " + rng.choice(w.never)])
            add(text, "negative", 1, ["first_person_anger"])
        elif kind < 0.84:  # disappointed, not angry
            feeling = rng.choice(w.let_down)
            if rng.random() < 0.5:
                text = f"{brand} {rng.choice(w.events)}, {feeling}."
            else:
                text = _cap(feeling) + ", " + _phrase(w, rng.choice(w.bad), noun, None) + "."
            add(text, "negative", 0, [])
        else:  # pleased, in the first person
            feeling = rng.choice(w.pleased)
            text = _cap(feeling) + rng.choice(GOOD_TAIL)
            if rng.random() < 0.4:
                text = f"{brand} – {text}"
            add(text, "positive", 0, [])
    return rows


def main() -> None:
    rng = random.Random(SEED)
    reserved = {r.text.casefold() for r in heldout()}
    seen: set[str] = set()
    out: list[dict[str, object]] = []
    for lang, words in WORDS.items():
        for row in compose(lang, words, rng):
            key = str(row["text"]).casefold()
            if key not in reserved and key not in seen:
                seen.add(key)
                out.append(row)
    path = DATA / "train" / "verdicts.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for row in out:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(out)} composed short posts written to {path}")


if __name__ == "__main__":
    main()
