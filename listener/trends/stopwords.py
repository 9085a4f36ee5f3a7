"""Stop words per language: the words that carry no complaint on their own.

The languages we promise (en, pl, lv, lt, sl, he) and the big ones (de, fr, es, it, pt, nl, ru,
uk, tr, ar, ja, zh). Words are casefolded. A mention whose language is unknown is filtered with the
union of every list: a word that is a function word somewhere is rarely a complaint elsewhere.
"""

from __future__ import annotations

_WORDS: dict[str, str] = {
    "en": """a about above after again against all am an and any are as at be because been before
        being below between both but by can could did do does doing down during each few for from
        further had has have having he her here hers herself him himself his how i if in into is
        it its itself just me more most my myself no nor not now of off on once only or other our
        ours ourselves out over own same she should so some such than that the their theirs them
        themselves then there these they this those through to too under until up very was we
        were what when where which while who whom why will with would you your yours yourself
        yourselves im ive dont cant its thats get got still also even really one us via amp rt
        i'm i've don't can't it's that's won't didn't isn't wasn't""",
    "pl": """a aby ale am bez bo by być był była było były będzie ci co coś czy dla do gdy gdzie go
        i ich ile im is jak jaki jako je jej jest jeszcze jego już ja jestem każdy kiedy kto
        która które który ku lub ma mam mi mnie mną mój może my na nad nam nas nawet nic nie
        niej nim no o od on ona one oni ono oraz po pod przez przy się są ta tak tam te tego
        tej ten też to tu tylko tym u w we wszystko z za ze że żeby już jednak teraz""",
    "lv": """un ir ar par uz no kā ka bet vai arī jau tikai es tu viņš viņa mēs jūs viņi tas tā
        to ko kas kur kad lai pie pēc līdz bija būs esmu nav man mani mums jums viņam viņai
        savu savs sev šis šī tie tās vēl ļoti pa kāpēc tad te tur""",
    "lt": """ir bet ar kad kur kas kaip jau tik tai tas ta jis ji mes jūs jie jos aš tu man mane
        mums jums jam jai su be į iš už per po prie nuo iki yra buvo bus nėra dar labai kodėl
        taip ne o čia ten savo """,
    "sl": """in je da se na za v ki so pa ne z s po iz do pri kot ali tudi že še sem si smo ste
        bo bi ga jo jih mi ti on ona mu ji me te to ta tisto kaj kje kdaj zakaj kako samo zelo
        bil bila bilo nisem ni""",
    "he": """של את על עם זה זו הוא היא הם הן אני אתה את אנחנו אתם לא כן גם רק כל אבל או כי אם
        מה מי איך למה איפה כמה יש אין היה הייתה היו יהיה עוד כבר מאוד אחרי לפני בין אל לי לו
        לה לנו להם שלי שלו שלה שלנו ו ה ב ל מ ש כ""",
    "de": """der die das und ist nicht ein eine einer einem einen es ich du er sie wir ihr mit
        auf für von zu im in den dem des sich auch als an aber bei noch nur so wie was wenn
        schon mir mich mein meine kein keine hat habe haben war sind wird werden am aus oder
        nach um dass sehr""",
    "fr": """le la les un une des et est à au aux de du en dans que qui ne pas pour sur par avec
        ce cette ces il elle ils elles je tu nous vous on mon ma mes son sa ses leur leurs
        plus mais ou où se sa été être avoir ai as a ont très tout""",
    "es": """el la los las un una unos unas y o de del en que es no por para con se su sus al lo
        como más pero ya muy me mi mis te tu yo él ella nos son fue ha han hay este esta esto
        eso cuando porque sin sobre también""",
    "it": """il lo la i gli le un una uno e è di del della dei in che non per con su da al alla
        ma mi ti si ci ho ha hanno sono come più anche questo questa quello molto io tu lui lei
        noi voi loro mio mia""",
    "pt": """o a os as um uma e é de do da dos das em no na nos nas que não por para com se seu
        sua ao mais mas como foi eu você ele ela nós meu minha muito já está são tem""",
    "nl": """de het een en is niet van in op te dat die er ik je jij hij zij wij we met voor zijn
        was maar als aan om ook naar bij nog al dan mijn me hun geen heb heeft""",
    "ru": """и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по
        только ее мне было вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже
        или ни быть был него до вас нибудь опять уж вам ведь там потом себя ничего ей может
        они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже
        себе под будет ж тогда кто этот это очень""",
    "uk": """і й в у не що він на я з як а то все вона так його але та ти до же ви за б по тільки
        її мені було від мене ще ні о із йому коли навіть чи якщо вже або бути був до вас там
        потім себе нічого може вони тут де є треба для ми тебе їх це дуже цей""",
    "tr": """ve bir bu da de ile için çok ama ne mi mı mu mü ben sen o biz siz onlar gibi daha
        her şey var yok olan olarak kadar sonra ki ya diye bana beni benim""",
    "ja": """の が で に を は と も た し て な だ です ます か から まで よ ね こと これ それ この
        その""",
    "zh": """的 了 是 在 我 有 和 就 不 人 都 一 也 很 到 说 要 去 你 会 着 没有 看 好
        这 那 他 她 们 吗 吧 呢""",
    "ar": """في من على إلى عن مع هذا هذه ذلك التي الذي أن إن كان كانت لا ما لم لن قد و أو ثم
        هو هي هم نحن أنا أنت كل بعد قبل عند حتى أي""",
}

LANGUAGES: tuple[str, ...] = tuple(_WORDS)
BY_LANGUAGE: dict[str, frozenset[str]] = {
    code: frozenset(w.casefold() for w in words.split()) for code, words in _WORDS.items()
}
ALL: frozenset[str] = frozenset().union(*BY_LANGUAGE.values())


def for_language(lang: str | None) -> frozenset[str]:
    """The stop words of ``lang`` ('pt-BR' reads as 'pt'); all of them when unknown."""
    if not lang:
        return ALL
    return BY_LANGUAGE.get(lang.split("-", 1)[0].casefold(), ALL)
