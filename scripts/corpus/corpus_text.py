# ruff: noqa: E501  (corpus data: long texts are the point)
"""Hand-written texts of the sample corpus (see scripts/make_corpus.py).

Brands: "Aurora Air" (airline, @AuroraAir, #AuroraAir) and "Nordlys Mobile" (telecom,
@NordlysMobile, #NordlysMobile). ``{b}`` is replaced by a brand mention form, ``{f}`` by a flight
or plan detail. Languages: en, pl, lv, lt, sl, he.
"""

from __future__ import annotations

AIR: dict[str, dict[str, list[str]]] = {
    "en": {
        "pos": [
            "Crew on {b} {f} were absolutely lovely, landed 20 min early ✈️",
            "Shoutout to {b} for rebooking me in 5 minutes flat. That's how it's done 👏",
            "{b} lounge in Riga is small but the coffee is great ☕",
            "First time flying {b} and honestly? Legroom &gt; expectations",
            "Got upgraded on {b} {f} for my birthday 🎂 thank you!!",
            "Kids loved the little activity packs on {b} 👨‍👩‍👧 travel made easy",
        ],
        "neu": [
            "Does {b} allow two cabin bags on {f}? Website is unclear",
            "Booked {b} {f} for March, anyone know if they serve food?",
            "{b} adds a new route to Ljubljana from June, per their newsletter",
            "Checking in with {b} app now. Seat map says 3-3 config",
            "Is the {b} baggage allowance 20kg or 23kg for economy plus?",
        ],
        "neg": [
            "{b} lost my suitcase AGAIN. Third time this year. Unbelievable.",
            "2 hours on hold with {b} and the call just dropped 😤",
            "{b} charged me twice for seat selection &amp; nobody answers emails",
            "Delayed 4h on {f}, zero updates from {b}. Just a screen saying 'delayed'",
            "Never flying {b} again. Rude gate staff, broken seat, cold food.",
        ],
    },
    "pl": {
        "pos": [
            "Świetna obsługa w {b}, lot {f} punktualny i miła załoga 😊",
            "Polecam {b}! Zmiana rezerwacji bez żadnych opłat, szok",
            "Dzięki {b} zdążyłam na wesele siostry. Dziękuję za szybką pomoc!",
        ],
        "neu": [
            "Czy ktoś leciał {b} z Gdańska? Jak wygląda bagaż podręczny?",
            "{b} uruchamia połączenie Kraków–Ryga od maja",
            "Ile kosztuje wybór miejsca w {b} na trasie {f}?",
        ],
        "neg": [
            "{b} zgubili mój bagaż i od tygodnia nikt nie odpowiada. Żenada.",
            "Lot {f} odwołany, {b} nie oferuje hotelu ani zwrotu. Skandal!",
            "Już nigdy więcej {b}. Opóźnienie 5 godzin i zero informacji 😡",
        ],
    },
    "lv": {
        "pos": [
            "Paldies {b} par lielisku lidojumu {f}, apkalpe ļoti laipna!",
            "{b} šodien ieradās pat agrāk nekā plānots 👍",
            "Ļoti patīkami pārsteigts par {b} ēdienu uz klāja",
        ],
        "neu": [
            "Vai kāds zina, cik bagāžas drīkst ņemt {b} reisā {f}?",
            "{b} piedāvā jaunu maršrutu uz Ļubļanu no jūnija",
            "Reģistrējos {b} reisam caur lietotni, viss strādā",
        ],
        "neg": [
            "{b} atcēla manu reisu {f} un neviens neatbild. Kauns!",
            "Divas stundas rindā pie {b} letes, šausmīga apkalpošana 😠",
            "Mana soma pazudusi jau trešo dienu, {b} klusē.",
        ],
    },
    "lt": {
        "pos": [
            "Ačiū {b} už puikų skrydį {f}, įgula labai maloni ✨",
            "{b} perkėlė mane į ankstesnį skrydį be jokio mokesčio. Super!",
            "Skridau su {b} pirmą kartą, tikrai rekomenduoju",
        ],
        "neu": [
            "Ar kas žino, ar {b} leidžia vežti dviratį?",
            "{b} pradeda skrydžius iš Vilniaus į Tel Avivą",
            "Kiek kainuoja papildomas bagažas {b} skrydyje {f}?",
        ],
        "neg": [
            "{b} atšaukė skrydį {f} ir nesiūlo jokios kompensacijos. Gėda!",
            "Trys valandos vėlavimo ir jokios informacijos iš {b} 😤",
            "Mano lagaminas dingo, {b} neatsako į laiškus jau savaitę.",
        ],
    },
    "sl": {
        "pos": [
            "Hvala {b} za odličen let {f}, posadka je bila čudovita!",
            "{b} je rešil mojo rezervacijo v petih minutah. Bravo 👏",
            "Prvič z {b} in res sem zadovoljen",
        ],
        "neu": [
            "Ali kdo ve, koliko prtljage dovoli {b} na letu {f}?",
            "{b} bo od junija letel iz Ljubljane v Rigo",
            "Prijava na let {b} prek aplikacije je bila hitra",
        ],
        "neg": [
            "{b} je odpovedal let {f} brez pojasnila. Sramota!",
            "Že teden dni čakam na izgubljeno prtljago, {b} se ne odziva 😡",
            "Nikoli več {b}. Zamuda štiri ure in nič informacij.",
        ],
    },
    "he": {
        "pos": [
            "תודה ל-{b} על טיסה נהדרת {f}, הצוות היה מקסים ✈️",
            "{b} סידרו לי החלפת טיסה תוך חמש דקות. שירות מעולה!",
            "טסתי עם {b} בפעם הראשונה וממש נהניתי",
        ],
        "neu": [
            "מישהו יודע כמה מזוודות מותר ב-{b} בטיסה {f}?",
            "{b} פותחת קו חדש מתל אביב לריגה",
            "עשיתי צ'ק-אין באפליקציה של {b}, הכל עבד",
        ],
        "neg": [
            "{b} ביטלו את הטיסה {f} ואף אחד לא עונה. בושה!",
            "שלוש שעות עיכוב ואפס מידע מ-{b} 😡",
            "המזוודה שלי נעלמה ו-{b} לא עונים כבר שבוע",
        ],
    },
}

TEL: dict[str, dict[str, list[str]]] = {
    "en": {
        "pos": [
            "Switched to {b} last month and my bill dropped by half 🙌",
            "{b} 5G in Vilnius old town is seriously fast. 480 Mbps!",
            "Support at {b} fixed my eSIM in a 3 minute chat. Impressed.",
            "Roaming with {b} in Slovenia just worked, no surprise charges 👍",
        ],
        "neu": [
            "Does {b} support eSIM on the Pixel 9? {f}",
            "{b} is raising prices by 2 EUR from next month according to the email",
            "Anyone compared {b} and the other carriers for coverage in Kaunas?",
            "Porting my number to {b} today, {f}. Let's see.",
        ],
        "neg": [
            "{b} network down for 3 hours and no status update. Working from home is impossible",
            "{b} charged me roaming fees in the EU?! That's illegal. {f}",
            "Cancelled my {b} contract and they still billed me for 2 months 🤬",
            "{b} customer service: 45 minutes on hold, then 'call back tomorrow'.",
        ],
    },
    "pl": {
        "pos": [
            "{b} ma najlepszy zasięg w Bieszczadach, serio polecam",
            "Przeszłam do {b} i wreszcie internet działa w metrze 🙂",
        ],
        "neu": [
            "Czy {b} ma ofertę na kartę bez umowy? {f}",
            "{b} zmienia cennik roamingu od lipca",
        ],
        "neg": [
            "{b} znowu nie ma zasięgu w całym Wrocławiu. Płacę za co?!",
            "Faktura od {b} wyższa o 40 zł bez powodu. Reklamacja odrzucona 😡",
        ],
    },
    "lv": {
        "pos": [
            "{b} 5G Rīgā strādā lieliski, ātrums pārsteidza",
            "Pārgāju uz {b} un rēķins kļuva mazāks 👍",
        ],
        "neu": [
            "Vai {b} piedāvā eSIM? {f}",
            "{b} maina tarifus no nākamā mēneša",
        ],
        "neg": [
            "{b} tīkls nestrādā jau trīs stundas, nekāda informācija 😤",
            "{b} man piesprieda viesabonēšanas maksu ES iekšienē. Kā tā?",
        ],
    },
    "lt": {
        "pos": [
            "{b} ryšys Kaune puikus, 5G tikrai greitas",
            "Perėjau prie {b} ir sąskaita sumažėjo per pusę 🙌",
        ],
        "neu": [
            "Ar {b} turi eSIM planą? {f}",
            "{b} keičia kainas nuo kito mėnesio",
        ],
        "neg": [
            "{b} tinklas neveikia jau pusdienį, jokios informacijos!",
            "{b} vėl išrašė per didelę sąskaitą. Skundžiuosi 😡",
        ],
    },
    "sl": {
        "pos": [
            "{b} ima odličen signal tudi v Bohinju 👍",
            "Presenečen nad {b} podporo, težavo rešili v dveh minutah",
        ],
        "neu": [
            "Ali {b} podpira eSIM? {f}",
            "{b} s prihodnjim mesecem spreminja cenik",
        ],
        "neg": [
            "{b} omrežje ne deluje že ves dan. Katastrofa!",
            "{b} mi je zaračunal gostovanje v EU?! Nezaslišano 😡",
        ],
    },
    "he": {
        "pos": [
            "עברתי ל-{b} והחשבון ירד בחצי 🙌",
            "שירות הלקוחות של {b} פתר לי את הבעיה תוך דקות",
        ],
        "neu": [
            "האם {b} תומכים ב-eSIM? {f}",
            "{b} מעדכנים מחירים מהחודש הבא",
        ],
        "neg": [
            "הרשת של {b} לא עובדת כבר שלוש שעות!! 😡",
            "{b} חייבו אותי פעמיים החודש ואף אחד לא עונה",
        ],
    },
}

STORM = [
    "{b} cancelled {f} with 40 minutes notice. 180 people stuck at RIX, no hotel, no food vouchers. DISGRACE",
    "Sitting on the floor at Riga airport since 6am because {b} cancelled {f}. Nobody from the airline here. 🤬",
    "{b} {f} CANCELLED and the app still says on time. Are you kidding me?",
    "Missed my father's funeral because {b} cancelled {f}. I will never forgive this.",
    "The {b} desk at RIX is EMPTY. 200 passengers from {f} and not a single staff member 😡😡",
    "{b} rebooked me on a flight in FOUR DAYS. Four. Days. {f} was the last flight today.",
    "Hey {b} how about answering your phone?? {f} passengers are sleeping on the floor",
    "{b} {f} cancelled, refund form gives error 500. Of course it does.",
    "{b} ביטלו את {f} ברגע האחרון! תקועים בריגה בלי מלון ובלי אוכל 😡",
    "אין אף נציג של {b} בשדה. {f} בוטלה ואף אחד לא אומר לנו כלום!!",
    "{b} בושה וחרפה. {f} בוטלה ונתקענו עם ילדים קטנים בשדה התעופה",
    "{b} atcēla {f} pusstundu pirms izlidošanas. Neviena darbinieka, nekādas informācijas! 😡",
    "Kauns, {b}! {f} atcelts, cilvēki guļ uz grīdas lidostā Rīga.",
    "{b} atsakās dot viesnīcu pēc {f} atcelšanas. Tas ir nelikumīgi!",
    "{b} anulowało {f} i nikt nic nie wie. Dzieci płaczą, zero pomocy 😡",
    "{b} atšaukė {f} ir paliko mus oro uoste be jokios pagalbos! Gėda!",
    "{b} je odpovedal {f}, v Rigi smo obtičali brez hotela. Sramota!",
    "Influencer trip ruined. {b} cancelled {f} and support chat closed itself. 3 times.",
    "Dear {b}, EU261 says you owe every passenger on {f} €400. We will be filing. All of us.",
    "180 angry passengers, 0 {b} staff, 1 vending machine. {f} cancellation live thread 🧵",
]
