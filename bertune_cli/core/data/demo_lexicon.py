"""Bilingual German→English lexicon of the embedded demo corpus (data only; grammar: demo.py).

Every German word has exactly one English rendering, so a German sentence has one translation.
Tags say which verbs, adjectives and prepositions a word combines with, so sentences make sense.
"""

# Nouns: (German singular, German plural, gender, English singular, English plural, tags[, oblique])
# An empty plural marks a mass noun; an empty singular a plural-only noun (gender "pl").
# "fam": one of a kind (my mother, not "three mothers"); "noposs": "meine Frau" means "my wife";
# "small": fits in a bag or on a table.
# The oblique form is the accusative/dative singular of a weak ("n-declension") masculine.
NOUNS = [
    # people
    ("Mann", "Männer", "m", "man", "men", "person noposs"),
    ("Frau", "Frauen", "f", "woman", "women", "person noposs"),
    ("Kind", "Kinder", "n", "child", "children", "person"),
    ("Junge", "Jungen", "m", "boy", "boys", "person", "Jungen"),
    ("Mädchen", "Mädchen", "n", "girl", "girls", "person"),
    ("Lehrer", "Lehrer", "m", "teacher", "teachers", "person"),
    ("Lehrerin", "Lehrerinnen", "f", "teacher", "teachers", "person"),
    ("Arzt", "Ärzte", "m", "doctor", "doctors", "person"),
    ("Ärztin", "Ärztinnen", "f", "doctor", "doctors", "person"),
    ("Student", "Studenten", "m", "student", "students", "person", "Studenten"),
    ("Studentin", "Studentinnen", "f", "student", "students", "person"),
    ("Freund", "Freunde", "m", "friend", "friends", "person"),
    ("Freundin", "Freundinnen", "f", "friend", "friends", "person"),
    ("Nachbar", "Nachbarn", "m", "neighbour", "neighbours", "person", "Nachbarn"),
    ("Nachbarin", "Nachbarinnen", "f", "neighbour", "neighbours", "person"),
    ("Koch", "Köche", "m", "cook", "cooks", "person"),
    ("Köchin", "Köchinnen", "f", "cook", "cooks", "person"),
    ("Kellner", "Kellner", "m", "waiter", "waiters", "person"),
    ("Kellnerin", "Kellnerinnen", "f", "waitress", "waitresses", "person"),
    ("Polizist", "Polizisten", "m", "police officer", "police officers", "person", "Polizisten"),
    ("Verkäufer", "Verkäufer", "m", "shop assistant", "shop assistants", "person"),
    ("Chef", "Chefs", "m", "boss", "bosses", "person"),
    ("Chefin", "Chefinnen", "f", "boss", "bosses", "person"),
    ("Mutter", "Mütter", "f", "mother", "mothers", "person fam"),
    ("Vater", "Väter", "m", "father", "fathers", "person fam"),
    ("Bruder", "Brüder", "m", "brother", "brothers", "person"),
    ("Schwester", "Schwestern", "f", "sister", "sisters", "person"),
    ("Sohn", "Söhne", "m", "son", "sons", "person"),
    ("Tochter", "Töchter", "f", "daughter", "daughters", "person"),
    ("Großmutter", "Großmütter", "f", "grandmother", "grandmothers", "person fam"),
    ("Großvater", "Großväter", "m", "grandfather", "grandfathers", "person fam"),
    ("Onkel", "Onkel", "m", "uncle", "uncles", "person"),
    ("Tante", "Tanten", "f", "aunt", "aunts", "person"),
    ("", "Eltern", "pl", "", "parents", "person fam"),
    # animals
    ("Hund", "Hunde", "m", "dog", "dogs", "animal pet wash"),
    ("Katze", "Katzen", "f", "cat", "cats", "animal pet"),
    ("Hase", "Hasen", "m", "rabbit", "rabbits", "animal pet", "Hasen"),
    ("Vogel", "Vögel", "m", "bird", "birds", "animal pet"),
    ("Pferd", "Pferde", "n", "horse", "horses", "animal pet wash"),
    ("Maus", "Mäuse", "f", "mouse", "mice", "animal"),
    ("Ente", "Enten", "f", "duck", "ducks", "animal"),
    ("Kuh", "Kühe", "f", "cow", "cows", "animal"),
    # things
    ("Tisch", "Tische", "m", "table", "tables", "thing buy build fix carry"),
    ("Stuhl", "Stühle", "m", "chair", "chairs", "thing buy build fix carry furn"),
    ("Lampe", "Lampen", "f", "lamp", "lamps", "thing buy fix"),
    ("Auto", "Autos", "n", "car", "cars", "thing buy fix wash show"),
    ("Fahrrad", "Fahrräder", "n", "bicycle", "bicycles", "thing buy fix wash lose"),
    ("Uhr", "Uhren", "f", "watch", "watches", "thing buy fix lose give small"),
    ("Tasche", "Taschen", "f", "bag", "bags", "thing buy lose carry open box close"),
    ("Schlüssel", "Schlüssel", "m", "key", "keys", "thing lose give small"),
    ("Hut", "Hüte", "m", "hat", "hats", "thing buy lose small"),
    ("Jacke", "Jacken", "f", "jacket", "jackets", "thing buy lose wash"),
    ("Schuh", "Schuhe", "m", "shoe", "shoes", "thing buy wash furn"),
    ("Kleid", "Kleider", "n", "dress", "dresses", "thing buy wash"),
    ("Hemd", "Hemden", "n", "shirt", "shirts", "thing buy wash"),
    ("Regenschirm", "Regenschirme", "m", "umbrella", "umbrellas", "thing buy lose small"),
    ("Computer", "Computer", "m", "computer", "computers", "thing buy fix"),
    ("Telefon", "Telefone", "n", "phone", "phones", "thing buy fix lose small"),
    ("Kamera", "Kameras", "f", "camera", "cameras", "thing buy fix lose small"),
    ("Bild", "Bilder", "n", "picture", "pictures", "thing buy show paint"),
    ("Foto", "Fotos", "n", "photo", "photos", "thing show send small"),
    ("Blume", "Blumen", "f", "flower", "flowers", "thing buy give paint"),
    ("Baum", "Bäume", "m", "tree", "trees", "paint"),
    ("Ball", "Bälle", "m", "ball", "balls", "thing buy give lose small"),
    ("Geschenk", "Geschenke", "n", "present", "presents", "thing buy give send small"),
    ("Messer", "Messer", "n", "knife", "knives", "thing buy wash small"),
    ("Teller", "Teller", "m", "plate", "plates", "thing buy wash"),
    ("Tasse", "Tassen", "f", "cup", "cups", "thing buy wash box small"),
    ("Glas", "Gläser", "n", "glass", "glasses", "thing buy wash box small"),
    ("Flasche", "Flaschen", "f", "bottle", "bottles", "thing buy open box small close"),
    ("Koffer", "Koffer", "m", "suitcase", "suitcases", "thing buy carry open box close"),
    ("Kiste", "Kisten", "f", "box", "boxes", "thing carry open box close"),
    ("Paket", "Pakete", "n", "parcel", "parcels", "thing carry open send give"),
    ("Bett", "Betten", "n", "bed", "beds", "thing buy build furn"),
    ("Sofa", "Sofas", "n", "sofa", "sofas", "thing buy furn"),
    ("Schrank", "Schränke", "m", "cupboard", "cupboards", "thing buy build"),
    ("Fenster", "Fenster", "n", "window", "windows", "thing open wash fix close"),
    ("Tür", "Türen", "f", "door", "doors", "thing open fix paint close"),
    ("Haus", "Häuser", "n", "house", "houses", "thing buy build paint show"),
    ("Fahrkarte", "Fahrkarten", "f", "ticket", "tickets", "thing buy lose small"),
    ("Ring", "Ringe", "m", "ring", "rings", "thing buy give lose small"),
    ("Karte", "Karten", "f", "card", "cards", "thing buy write send small"),
    # reading and writing
    ("Buch", "Bücher", "n", "book", "books", "read write buy give show small"),
    ("Zeitung", "Zeitungen", "f", "newspaper", "newspapers", "read buy show small"),
    ("Brief", "Briefe", "m", "letter", "letters", "read write send open give small"),
    ("Zeitschrift", "Zeitschriften", "f", "magazine", "magazines", "read buy"),
    ("Geschichte", "Geschichten", "f", "story", "stories", "read write tell"),
    ("Roman", "Romane", "m", "novel", "novels", "read write buy give"),
    ("Gedicht", "Gedichte", "n", "poem", "poems", "read write"),
    ("E-Mail", "E-Mails", "f", "email", "emails", "read write send"),
    # food (count)
    ("Apfel", "Äpfel", "m", "apple", "apples", "food eat buy give"),
    ("Banane", "Bananen", "f", "banana", "bananas", "food eat buy give"),
    ("Orange", "Orangen", "f", "orange", "oranges", "food eat buy give"),
    ("Birne", "Birnen", "f", "pear", "pears", "food eat buy"),
    ("Ei", "Eier", "n", "egg", "eggs", "food eat buy cook"),
    ("Kuchen", "Kuchen", "m", "cake", "cakes", "food eat buy bake give order"),
    ("Tomate", "Tomaten", "f", "tomato", "tomatoes", "food eat buy"),
    ("Kartoffel", "Kartoffeln", "f", "potato", "potatoes", "food eat buy cook"),
    ("Wurst", "Würste", "f", "sausage", "sausages", "food eat buy order"),
    ("Pizza", "Pizzas", "f", "pizza", "pizzas", "food eat buy bake order"),
    ("Brötchen", "Brötchen", "n", "bread roll", "bread rolls", "food eat buy bake"),
    ("Keks", "Kekse", "m", "biscuit", "biscuits", "food eat buy bake give"),
    ("Zwiebel", "Zwiebeln", "f", "onion", "onions", "food buy cook"),
    ("Salat", "Salate", "m", "salad", "salads", "food eat order"),
    # food and drink (mass)
    ("Brot", "", "n", "bread", "", "food eat buy bake"),
    ("Käse", "", "m", "cheese", "", "food eat buy"),
    ("Reis", "", "m", "rice", "", "food eat buy cook"),
    ("Fleisch", "", "n", "meat", "", "food eat buy cook"),
    ("Suppe", "", "f", "soup", "", "food eat cook order"),
    ("Fisch", "", "m", "fish", "", "food eat buy cook order"),
    ("Schokolade", "", "f", "chocolate", "", "food eat buy give"),
    ("Obst", "", "n", "fruit", "", "food eat buy"),
    ("Honig", "", "m", "honey", "", "food eat buy"),
    ("Kaffee", "", "m", "coffee", "", "drink order"),
    ("Tee", "", "m", "tea", "", "drink order"),
    ("Wasser", "", "n", "water", "", "drink order"),
    ("Milch", "", "f", "milk", "", "drink buy order"),
    ("Saft", "", "m", "juice", "", "drink buy order"),
    ("Wein", "", "m", "wine", "", "drink buy order"),
    ("Bier", "", "n", "beer", "", "drink order"),
    ("Wetter", "", "n", "weather", "", "weather"),
    # languages (always without article)
    ("Deutsch", "", "n", "German", "", "lang"),
    ("Englisch", "", "n", "English", "", "lang"),
    ("Französisch", "", "n", "French", "", "lang"),
    ("Spanisch", "", "n", "Spanish", "", "lang"),
    ("Italienisch", "", "n", "Italian", "", "lang"),
    # places that can also be objects
    ("Museum", "Museen", "n", "museum", "museums", "place visit show noposs"),
    ("Zoo", "Zoos", "m", "zoo", "zoos", "place visit noposs"),
    ("Stadt", "Städte", "f", "city", "cities", "place visit show noposs"),
    ("Dorf", "Dörfer", "n", "village", "villages", "place visit noposs"),
]

# Adjectives: (German, inflection stem or "", English, noun tags it fits [+ "state": a passing
# state, so it goes with time adverbs: "heute müde", not "heute rot"; + "feel": a reason to act])
ADJECTIVES = [
    ("groß", "", "big", "thing animal place"),
    ("klein", "", "small", "thing animal place"),
    ("neu", "", "new", "thing read place"),
    ("alt", "", "old", "thing read place person animal"),
    ("jung", "", "young", "person animal"),
    ("schön", "", "beautiful", "thing place weather person animal"),
    ("rot", "", "red", "thing"),
    ("blau", "", "blue", "thing"),
    ("grün", "", "green", "thing"),
    ("gelb", "", "yellow", "thing"),
    ("schwarz", "", "black", "thing animal"),
    ("braun", "", "brown", "thing animal"),
    ("teuer", "teur", "expensive", "thing food drink place"),
    ("billig", "", "cheap", "thing food drink"),
    ("schwer", "", "heavy", "carry box"),
    ("leicht", "", "light", "carry box"),
    ("interessant", "", "interesting", "read person place"),
    ("langweilig", "", "boring", "read person place"),
    ("lang", "", "long", "read"),
    ("kurz", "", "short", "read"),
    ("gut", "", "good", "read food drink person"),
    ("kalt", "", "cold", "food drink weather state"),
    ("warm", "", "warm", "food drink weather state"),
    ("heiß", "", "hot", "food drink weather state"),
    ("frisch", "", "fresh", "food"),
    ("lecker", "", "delicious", "food"),
    ("süß", "", "sweet", "food animal"),
    ("freundlich", "", "friendly", "person animal"),
    ("nett", "", "nice", "person"),
    ("müde", "", "tired", "person animal state feel"),
    ("krank", "", "sick", "person animal state feel"),
    ("glücklich", "", "happy", "person state feel"),
    ("traurig", "", "sad", "person state feel"),
    ("hungrig", "", "hungry", "person animal state feel"),
    ("fleißig", "", "hardworking", "person"),
    ("klug", "", "clever", "person animal"),
    ("lustig", "", "funny", "person read"),
    ("laut", "", "loud", "person animal place state"),
    ("ruhig", "", "quiet", "person animal place state"),
    ("dunkel", "dunkl", "dark", "place thing"),
    ("sauber", "", "clean", "thing place state"),
    ("schmutzig", "", "dirty", "thing place state"),
    ("leer", "", "empty", "box place state"),
    ("voll", "", "full", "box place state"),
    ("bequem", "", "comfortable", "furn"),
    ("gefährlich", "", "dangerous", "animal"),
    ("sonnig", "", "sunny", "weather state"),
    ("windig", "", "windy", "weather state"),
]

# Verbs: (infinitive with "|" after a separable prefix, "du-form er-form" if irregular,
#         participle ("" = no perfect), auxiliary h/s, "English base/3rd person/past",
#         frame, argument tags, extra tags)
# frame: acc = accusative object, dat = dative object, ditr = dative person + accusative thing,
#        loc / dir / orig = where / where to / where from.
# extra: animal (animals may be subjects), for/with/without/from/bei (optional phrases),
#        at=TAG (optional place), nomodal (no modal verb), state (no time or frequency adverb).
VERBS = [
    ("lesen", "liest liest", "gelesen", "h", "read/reads/read", "acc", "read", "at=read"),
    ("schreiben", "", "geschrieben", "h", "write/writes/wrote", "acc", "write", "for"),
    ("kaufen", "", "gekauft", "h", "buy/buys/bought", "acc", "buy", "for at=buy"),
    ("verkaufen", "", "verkauft", "h", "sell/sells/sold", "acc", "buy", ""),
    ("essen", "isst isst", "gegessen", "h", "eat/eats/ate", "acc", "eat", "at=eat"),
    ("trinken", "", "getrunken", "h", "drink/drinks/drank", "acc", "drink", "at=eat"),
    ("kochen", "", "gekocht", "h", "cook/cooks/cooked", "acc", "cook", "for"),
    ("backen", "", "gebacken", "h", "bake/bakes/baked", "acc", "bake", "for"),
    ("bestellen", "", "bestellt", "h", "order/orders/ordered", "acc", "order", ""),
    ("sehen", "siehst sieht", "gesehen", "h", "see/sees/saw", "acc", "person animal", ""),
    ("suchen", "", "gesucht", "h", "look for/looks for/looked for", "acc", "lose pet person", ""),
    ("finden", "", "gefunden", "h", "find/finds/found", "acc", "lose pet", ""),
    ("brauchen", "", "gebraucht", "h", "need/needs/needed", "acc", "buy", "nomodal"),
    ("haben", "", "", "h", "have/has/had", "acc", "buy pet", "state"),
    ("besuchen", "", "besucht", "h", "visit/visits/visited", "acc", "person visit", ""),
    ("kennen", "", "gekannt", "h", "know/knows/knew", "acc", "person", "nomodal state"),
    ("lieben", "", "geliebt", "h", "love/loves/loved", "acc", "person pet", "nomodal state"),
    ("mögen", "", "", "h", "like/likes/liked", "acc", "person animal eat drink",
     "nomodal state"),
    ("treffen", "triffst trifft", "getroffen", "h", "meet/meets/met", "acc", "person", "at=meet"),
    ("fragen", "", "gefragt", "h", "ask/asks/asked", "acc", "person", ""),
    ("ein|laden", "lädst lädt", "eingeladen", "h", "invite/invites/invited", "acc", "person", ""),
    ("an|rufen", "", "angerufen", "h", "call/calls/called", "acc", "person", ""),
    ("ab|holen", "", "abgeholt", "h", "collect/collects/collected", "acc", "person", ""),
    ("malen", "", "gemalt", "h", "paint/paints/painted", "acc", "paint animal", ""),
    ("öffnen", "", "geöffnet", "h", "open/opens/opened", "acc", "open", ""),
    ("auf|machen", "", "aufgemacht", "h", "open/opens/opened", "acc", "open", ""),
    ("schließen", "", "geschlossen", "h", "close/closes/closed", "acc", "close", ""),
    ("waschen", "wäschst wäscht", "gewaschen", "h", "wash/washes/washed", "acc", "wash", ""),
    ("tragen", "trägst trägt", "getragen", "h", "carry/carries/carried", "acc", "carry", ""),
    ("reparieren", "", "repariert", "h", "repair/repairs/repaired", "acc", "fix", "for"),
    ("vergessen", "vergisst vergisst", "vergessen", "h", "forget/forgets/forgot", "acc", "lose",
     ""),
    ("verlieren", "", "verloren", "h", "lose/loses/lost", "acc", "lose", ""),
    ("nehmen", "nimmst nimmt", "genommen", "h", "take/takes/took", "acc", "give", ""),
    ("bauen", "", "gebaut", "h", "build/builds/built", "acc", "build", "for"),
    ("lernen", "", "gelernt", "h", "learn/learns/learned", "acc", "lang", ""),
    ("sprechen", "sprichst spricht", "gesprochen", "h", "speak/speaks/spoke", "acc", "lang", ""),
    ("verstehen", "", "verstanden", "h", "understand/understands/understood", "acc",
     "person lang", "state"),
    ("bekommen", "", "bekommen", "h", "get/gets/got", "acc", "give send", "from"),
    ("helfen", "hilfst hilft", "geholfen", "h", "help/helps/helped", "dat", "person", ""),
    ("danken", "", "gedankt", "h", "thank/thanks/thanked", "dat", "person", ""),
    ("antworten", "", "geantwortet", "h", "answer/answers/answered", "dat", "person", ""),
    ("geben", "gibst gibt", "gegeben", "h", "give/gives/gave", "ditr", "give", ""),
    ("schenken", "", "geschenkt", "h", "give/gives/gave", "ditr", "give", ""),
    ("zeigen", "", "gezeigt", "h", "show/shows/showed", "ditr", "show", ""),
    ("bringen", "", "gebracht", "h", "bring/brings/brought", "ditr", "give drink", ""),
    ("schicken", "", "geschickt", "h", "send/sends/sent", "ditr", "send", ""),
    ("erzählen", "", "erzählt", "h", "tell/tells/told", "ditr", "tell", ""),
    ("gehen", "", "gegangen", "s", "go/goes/went", "dir", "go", "with without"),
    ("fahren", "fährst fährt", "gefahren", "s", "drive/drives/drove", "dir", "drive city",
     "with"),
    ("fliegen", "", "geflogen", "s", "fly/flies/flew", "dir", "city", "with"),
    ("reisen", "", "gereist", "s", "travel/travels/travelled", "dir", "city", "with without"),
    ("laufen", "läufst läuft", "gelaufen", "s", "run/runs/ran", "dir", "run", "animal with"),
    ("kommen", "", "gekommen", "s", "come/comes/came", "dir", "go city", "with"),
    ("kommen", "", "gekommen", "s", "come/comes/came", "orig", "city", ""),
    ("wohnen", "", "gewohnt", "h", "live/lives/lived", "loc", "live city", "bei state"),
    ("arbeiten", "", "gearbeitet", "h", "work/works/worked", "loc", "work city", ""),
    ("warten", "", "gewartet", "h", "wait/waits/waited", "loc", "wait", ""),
    ("spielen", "", "gespielt", "h", "play/plays/played", "loc", "play", "animal with"),
    ("schlafen", "schläfst schläft", "geschlafen", "h", "sleep/sleeps/slept", "loc", "sleep",
     "animal"),
    ("essen", "isst isst", "gegessen", "h", "eat/eats/ate", "loc", "eat", "with"),
    ("schwimmen", "", "geschwommen", "s", "swim/swims/swam", "loc", "swim", "animal"),
    ("bleiben", "", "geblieben", "s", "stay/stays/stayed", "loc", "stay city", "bei"),
]

# Optional phrases a verb may take (its extra tag, German preposition, case, English)
PHRASES = [("for", "für", "acc", "for"), ("with", "mit", "dat", "with"),
           ("without", "ohne", "acc", "without"), ("from", "von", "dat", "from")]

# Verbs that introduce a "dass" clause: (infinitive, "English base/3rd person")
INTRO_VERBS = [("glauben", "think/thinks"), ("hoffen", "hope/hopes"), ("sagen", "say/says"),
               ("wissen", "know/knows")]

# Closed-class forms by gender ("pl" = plural) and case (nominative, accusative, dative).
DEFINITE = {"m": ("der", "den", "dem"), "f": ("die", "die", "der"), "n": ("das", "das", "dem"),
            "pl": ("die", "die", "den")}
EIN_ENDINGS = {"m": ("", "en", "em"), "f": ("e", "e", "er"), "n": ("", "", "em"),
               "pl": ("e", "e", "en")}  # ein, kein, mein, dein, sein, unser
ADJ_ENDINGS = {  # weak after der/die/das, mixed after ein-words, strong without article
    "weak": {"m": ("e", "en", "en"), "f": ("e", "e", "en"), "n": ("e", "e", "en"),
             "pl": ("en", "en", "en")},
    "mixed": {"m": ("er", "en", "en"), "f": ("e", "e", "en"), "n": ("es", "es", "en"),
              "pl": ("en", "en", "en")},
    "strong": {"m": ("er", "en", "em"), "f": ("e", "e", "er"), "n": ("es", "es", "em"),
               "pl": ("e", "e", "en")}}
# Preposition + article contractions a native speaker uses ("im Park", "zur Bank").
CONTRACTIONS = {("in", "dem"): "im", ("an", "dem"): "am", ("zu", "dem"): "zum",
                ("zu", "der"): "zur", ("in", "das"): "ins", ("an", "das"): "ans",
                ("von", "dem"): "vom", ("bei", "dem"): "beim"}

# Irregular present paradigms: ich du er/sie/es wir ihr sie/Sie
PARADIGMS = {
    "sein": "bin bist ist sind seid sind",
    "war": "war warst war waren wart waren",
    "haben": "habe hast hat haben habt haben",
    "wissen": "weiß weißt weiß wissen wisst wissen",
    "mögen": "mag magst mag mögen mögt mögen",
    "können": "kann kannst kann können könnt können",
    "wollen": "will willst will wollen wollt wollen",
    "müssen": "muss musst muss müssen müsst müssen",
}

# Places: (German, gender, English, where-prep, English where-prep, where-to-prep,
#          English where-to-prep, tags). English "-" means no article ("at school").
PLACES = [
    ("Park", "m", "park", "in", "in", "in", "to", "go run play wait meet read adj"),
    ("Garten", "m", "garden", "in", "in", "in", "to", "go run play sleep eat read work obj adj"),
    ("Bahnhof", "m", "station", "an", "at", "zu", "to", "go run drive wait work meet adj"),
    ("Flughafen", "m", "airport", "an", "at", "zu", "to", "go drive wait work"),
    ("Markt", "m", "market", "auf", "at", "auf", "to", "go buy work meet"),
    ("Supermarkt", "m", "supermarket", "in", "at", "in", "to", "go buy work adj"),
    ("Strand", "m", "beach", "an", "on", "an", "to", "go run drive play sleep read adj"),
    ("See", "m", "lake", "an", "at", "an", "to", "go run drive play read adj"),
    ("Zoo", "m", "zoo", "in", "at", "in", "to", "go work adj"),
    ("Küche", "f", "kitchen", "in", "in", "in", "to", "go eat work wait obj adj"),
    ("Schule", "f", "school", "in", "at -", "in", "to -", "go run work"),
    ("Bibliothek", "f", "library", "in", "in", "in", "to", "go read work wait meet adj"),
    ("Stadt", "f", "city", "in", "in", "in", "to", "go drive live work meet stay adj"),
    ("Bank", "f", "bank", "in", "at", "zu", "to", "go work wait"),
    ("Bäckerei", "f", "bakery", "in", "at", "zu", "to", "go buy work adj"),
    ("Kino", "n", "cinema", "in", "at", "in", "to", "go wait meet adj"),
    ("Museum", "n", "museum", "in", "in", "in", "to", "go work meet adj"),
    ("Restaurant", "n", "restaurant", "in", "in", "in", "to", "go eat work wait meet adj"),
    ("Hotel", "n", "hotel", "in", "at", "in", "to", "go sleep work wait stay adj"),
    ("Büro", "n", "office", "in", "in", "in", "to", "go work wait stay obj adj"),
    ("Krankenhaus", "n", "hospital", "in", "in", "in", "to", "go work stay adj"),
    ("Café", "n", "café", "in", "in", "in", "to", "go eat wait meet read work adj"),
    ("Dorf", "n", "village", "in", "in", "in", "to", "drive live work stay adj"),
    ("Schwimmbad", "n", "pool", "in", "in", "in", "to", "go swim adj"),
    ("Meer", "n", "sea", "in", "in", "an", "to", "drive swim"),
    ("Auto", "n", "car", "in", "in", "", "", "obj"),
    ("Tasche", "f", "bag", "in", "in", "", "", "obj"),
    ("Tisch", "m", "table", "auf", "on", "", "", "obj"),
    ("Schrank", "m", "cupboard", "in", "in", "", "", "obj"),
]
HOME = (("zu", "Hause"), ("at", "home"), ("nach", "Hause"), ("home",),
        "go run drive sleep eat work wait read stay play obj")

# Cities and countries: in / nach / aus without article
CITIES = [("Berlin", "Berlin"), ("Hamburg", "Hamburg"), ("München", "Munich"),
          ("Köln", "Cologne"), ("Wien", "Vienna"), ("Zürich", "Zurich"), ("Paris", "Paris"),
          ("London", "London"), ("Rom", "Rome"), ("Madrid", "Madrid"), ("Prag", "Prague"),
          ("Deutschland", "Germany"), ("Österreich", "Austria"), ("Frankreich", "France"),
          ("Italien", "Italy"), ("Spanien", "Spain"), ("England", "England")]

NAMES = ["Anna", "Maria", "Lisa", "Lena", "Sarah", "Julia", "Emma", "Sophie",
         "Thomas", "Peter", "Paul", "Jonas", "Lukas", "Felix", "David", "Max"]
TITLES = [("Herr", "Mr"), ("Frau", "Mrs")]
SURNAMES = ["Weber", "Schmidt", "Becker", "Wagner", "Fischer", "Meyer", "Schneider",
            "Hoffmann", "Schulz", "Neumann"]

# Pronouns: (nominative, accusative, dative, English subject, English object, person;
#            usable as object)
PRONOUNS = [("ich", "mich", "mir", "I", "me", "1s", True),
            ("du", "dich", "dir", "you", "you", "2s", True),
            ("er", "ihn", "ihm", "he", "him", "3s", True),
            ("sie", "sie", "ihr", "she", "her", "3s", False),
            ("wir", "uns", "uns", "we", "us", "1p", True),
            ("ihr", "euch", "euch", "you", "you", "2p", True),
            ("sie", "sie", "ihnen", "they", "them", "3p", False)]
FORMAL = ("Sie", "Sie", "Ihnen", "you", "you", "3p", False)
IT = ("es", "es", "ihm", "it", "it", "3s", False)

POSSESSIVES = [("mein", "my"), ("dein", "your"), ("sein", "his"), ("unser", "our")]
NUMBERS = [("zwei", "two"), ("drei", "three"), ("vier", "four"), ("fünf", "five"),
           ("sechs", "six"), ("sieben", "seven"), ("acht", "eight"), ("neun", "nine"),
           ("zehn", "ten"), ("elf", "eleven"), ("zwölf", "twelve")]

# Time adverbs: (German, English, class); the class decides which tenses they go with.
TIMES = [("heute", "today", "today"), ("jetzt", "now", "now"),
         ("morgen", "tomorrow", "fut"), ("übermorgen", "the day after tomorrow", "fut"),
         ("bald", "soon", "fut"), ("nächste Woche", "next week", "fut"),
         ("nächstes Jahr", "next year", "fut"),
         ("gestern", "yesterday", "past"), ("vorgestern", "the day before yesterday", "past"),
         ("letzte Woche", "last week", "past"), ("letztes Jahr", "last year", "past"),
         ("am Montag", "on Monday", "day"), ("am Dienstag", "on Tuesday", "day"),
         ("am Mittwoch", "on Wednesday", "day"), ("am Donnerstag", "on Thursday", "day"),
         ("am Freitag", "on Friday", "day"), ("am Samstag", "on Saturday", "day"),
         ("am Sonntag", "on Sunday", "day"), ("am Wochenende", "at the weekend", "day"),
         ("am Morgen", "in the morning", "habit"), ("am Nachmittag", "in the afternoon", "habit"),
         ("am Abend", "in the evening", "habit"), ("jeden Tag", "every day", "habit"),
         ("jeden Morgen", "every morning", "habit"), ("jede Woche", "every week", "habit")]
# Tense/mood -> time-adverb classes it combines with ("gestern" needs the perfect).
TENSE_TIMES = {"pres": ("today", "now", "fut", "day", "habit"), "perf": ("today", "past", "day"),
               "modal": ("today", "now", "fut", "day", "habit"),
               "be": ("today", "now", "fut", "habit"), "be_past": ("today", "past", "day")}
# Subject kind -> place tags where it can be ("Der Schlüssel ist auf dem Tisch").
PLACES_FOR = {"person": "go work live wait play eat meet read stay city", "animal": "play sleep",
              "thing": "obj"}
FREQUENCY = [("oft", "often"), ("immer", "always"), ("manchmal", "sometimes")]
INTENSIFIERS = [("sehr", "very"), ("zu", "too"), ("ziemlich", "quite")]
# Question words: English, and the part of the clause they stand for
WH_WORDS = {"wer": ("who", "subj"), "was": ("what", "acc"), "wen": ("who", "acc"),
            "wem": ("who", "dat"), "wo": ("where", "place"), "wohin": ("where", "place"),
            "wann": ("when", ""), "warum": ("why", "")}
