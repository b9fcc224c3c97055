"""The names of the bench persons, and how one is drawn.

Names from several origins (French, Maghreb, West Africa, Horn of Africa, Middle East,
Eastern Europe, Turkey, Asia), each family its own, with a skewed frequency: Martin,
Diallo or Benali come back about once per hundred persons, Mamadou Diallo hundreds of
times at a million, and half of the French names come from a long tail of rare
French-sounding names. Accents (Hélène, Lefèvre, Müller, Şahin), spelling variants
(Lefèvre/Lefebvre, Traoré/Traore, N'Diaye/Ndiaye), compound names (Jean-Pierre,
Martin-Dubois, Da Silva, Ben Saïd, the double names of children born since 2005),
married women's usage names (`bench.seed.households`), and ~4% of last names typed in
capitals, as in real files.

The tables of names are data and stay together here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from bench.seed.draw import Picker
from bench.seed.values import MALE, UNSPECIFIED
from models.person import Sex


def _nfc(names: str) -> tuple[str, ...]:
    """A list of names, one per `|`, in Unicode NFC (what the API stores)."""
    return tuple(unicodedata.normalize("NFC", n.strip()) for n in names.split("|"))


# French surnames by decreasing frequency (INSEE), with a few spelling variants.
FRENCH_LAST = _nfc(
    "Martin|Bernard|Thomas|Petit|Robert|Richard|Durand|Dubois|Moreau|Laurent|Simon|Michel|"
    "Lefebvre|Leroy|Roux|David|Bertrand|Morel|Fournier|Girard|Bonnet|Dupont|Lambert|Fontaine|"
    "Rousseau|Vincent|Muller|Lefèvre|Faure|André|Mercier|Blanc|Guérin|Boyer|Garnier|Chevalier|"
    "François|Legrand|Gauthier|Garcia|Perrin|Robin|Clément|Morin|Nicolas|Henry|Roussel|"
    "Mathieu|Gautier|Masson|Marchand|Duval|Denis|Dumont|Marie|Lemaire|Noël|Meyer|Dufour|"
    "Meunier|Brun|Blanchard|Giraud|Joly|Rivière|Lucas|Brunet|Gaillard|Barbier|Arnaud|Martinez|"
    "Gérard|Roche|Renard|Schmitt|Roy|Leroux|Colin|Vidal|Caron|Picard|Roger|Fabre|Aubert|"
    "Lemoine|Renaud|Dumas|Lacroix|Olivier|Philippe|Bourgeois|Pierre|Benoît|Rey|Leclerc|Payet|"
    "Rolland|Leclercq|Guillaume|Lecomte|Lopez|Jean|Dupuy|Guillot|Hubert|Berger|Carpentier|"
    "Sanchez|Dupuis|Moulin|Louis|Deschamps|Huet|Vasseur|Perez|Boucher|Fleury|Royer|Klein|"
    "Jacquet|Adam|Paris|Poirier|Marty|Aubry|Guyot|Carré|Charles|Renault|Charpentier|Ménard|"
    "Maillard|Baron|Bertin|Bailly|Hervé|Schneider|Fernandez|Le Gall|Collet|Léger|Bouvier|"
    "Julien|Prévost|Millet|Perrot|Daniel|Le Roux|Cousin|Germain|Breton|Besson|Langlois|Rémy|"
    "Le Goff|Pelletier|Lévêque|Perrier|Leblanc|Barré|Lebrun|Marchal|Weber|Mallet|Hamon|"
    "Boulanger|Jacob|Monnier|Michaud|Rodriguez|Guichard|Gillet|Étienne|Grondin|Poulain|"
    "Tessier|Chevallier|Collin|Chauvin|Da Silva|Bouchet|Gay|Lemaître|Bénard|Maréchal|Humbert|"
    "Reynaud|Antoine|Hoarau|Perret|Barthélémy|Cordier|Pichon|Lejeune|Gilbert|Lamy|Delaunay|"
    "Pasquier|Carlier|Laporte|Dos Santos|Ferreira|Pereira|Rodrigues|Gonçalves|Fernandes|"
    "Lefebvre|Müller|Benoit|Le Gallou|De Oliveira|Lemaitre|Ribeiro|Texier|Guillou|Riviere"
)
# The long tail: French-sounding names built from syllables (a few thousand, each rare).
TAIL_HEADS = _nfc(
    "Ba|Be|Bo|Bou|Bri|Ca|Cha|Che|Co|Cou|Da|De|Du|Fa|Fe|Fo|Ga|Ge|Gi|Gou|Gui|La|Le|Lo|Ma|Me|"
    "Mo|Mou|Na|Pa|Pe|Po|Ra|Re|Ro|Sa|Se|Ta|Te|Tou|Va|Ve|Vi|Ker|Ber|Mar|Cor|Fon|Mon|Sau"
)
TAIL_MIDDLES = _nfc("|l|n|r|ss|ch|v|t|gn|ill|rr|nd|rd|s")
TAIL_INNER = _nfc("a|e|i|o|ou|au")  # an optional inner syllable: Ba-r-ol-ier
TAIL_INNER_END = _nfc("l|r|n|s|ch|v|t")
TAIL_ENDS = _nfc(
    "et|ier|eau|ard|in|ot|ac|on|ault|ès|ère|y|ois|and|el|ec|ou|as|é|elle|at|aud|ie|ic|eux|"
    "ant|ez|ais|ine|ieux"
)
TAIL_PARTICLES = ("Le ", "La ", "De ", "Du ", "Des ", "de la ", "Le ")
WEST_AFRICA_LAST = _nfc(
    "Diallo|Traoré|Camara|Koné|Coulibaly|Diarra|Touré|Sow|Bah|Barry|Cissé|Keïta|Sylla|Konaté|"
    "N'Diaye|Diop|Fofana|Sissoko|Doumbia|Kanté|Dembélé|Sangaré|Bamba|Ouattara|Kouassi|Kouamé|"
    "Yao|Diakité|Soumaré|Gueye|Fall|Sarr|Ba|Mbaye|Faye|Niang|Seck|Tall|Baldé|Condé|Soumah|"
    "Traore|Ndiaye|Keita|Cisse|Kone|Toure|Sidibé|Magassa|Tandia|Dramé"
)
MAGHREB_LAST = _nfc(
    "Benali|Mansouri|Haddad|Belkacem|Bouzid|Saïdi|Amrani|El Amrani|Ben Saïd|Ben Ahmed|Hamidi|"
    "Bensalem|Boudiaf|Cherif|Chérif|Djebbar|Ferhat|Ghazi|Kaci|Khelifi|Larbi|Mebarki|Meziane|"
    "Ouali|Rahmani|Slimani|Taleb|Zerrouki|Aït Ali|Aït Ouali|Benyahia|Bouaziz|El Idrissi|"
    "Lahlou|Tahiri|Alaoui|Benjelloun|Chaoui|Trabelsi|Jebali|Gharbi|Mejri|Ben Amor|Saidi|"
    "Benaissa|Boukhari|Hamdi|Belhadj|Ben Youssef"
)
HORN_LAST = _nfc(
    "Tesfaye|Tekle|Ghebremedhin|Kebede|Haile|Abraha|Berhe|Gebremariam|Tesfamariam|Woldu|"
    "Hassan|Abdi|Osman|Yusuf|Idriss|Abakar|Mahamat|Ali Hassan|Mohamed Ali|Adam|Ibrahim|"
    "Mussa|Omer|Abdallah|Haroun"
)
MIDDLE_EAST_LAST = _nfc(
    "Ahmadi|Hosseini|Mohammadi|Rahimi|Haidari|Karimi|Noori|Sultani|Safi|Sharifi|Amiri|Azizi|"
    "Habibi|Nazari|Rezaei|Stanekzai|Wardak|Popalzai|Al Hassan|Al Ahmad|Khalil|Darwish|"
    "Al Khatib|Hamdan|Nasser|Saleh|Youssef|Hussaini|Jafari|Sadat"
)
EAST_EUROPE_LAST = _nfc(
    "Popescu|Ionescu|Popa|Stan|Dumitru|Stoica|Constantin|Gheorghe|Radu|Munteanu|Lungu|Rusu|"
    "Ciobanu|Moldovan|Kovač|Horváth|Nowak|Kowalski|Petrov|Shevchenko|Bondarenko|Kovalenko|"
    "Melnyk|Tkachenko|Hasani|Berisha|Krasniqi|Gashi|Hoxha|Kelmendi|Avetisyan|Hovhannisyan|"
    "Grigoryan|Beridze|Kapanadze|Stănescu|Mihăilă|Țurcanu"
)
TURKEY_LAST = _nfc(
    "Yilmaz|Kaya|Demir|Şahin|Çelik|Yildiz|Öztürk|Aydin|Arslan|Doğan|Kiliç|Aslan|Çetin|Koç|"
    "Kurt|Özdemir|Yildirim|Polat"
)
ASIA_LAST = _nfc(
    "Nguyen|Tran|Le|Pham|Hoang|Vo|Dang|Bui|Huynh|Chen|Wang|Li|Zhang|Liu|Huang|Lin|Sok|Chea|"
    "Rahman|Hossain|Islam|Akter|Singh|Kaur|Sivakumar|Tharmalingam|Ravichandran|Nguyễn"
)

# French first names by generation: born before 1966, 1966-1989, 1990-2004, since 2005.
FRENCH_FIRST: Final[dict[Sex, tuple[tuple[str, ...], ...]]] = {
    Sex.MALE: (
        _nfc(
            "Jean|Pierre|Michel|André|Philippe|Alain|Bernard|Jacques|Daniel|Claude|Gérard|"
            "Patrick|René|Christian|Marcel|Serge|Jean-Claude|Jean-Pierre|Jean-Marie|Roger|"
            "Jean-Louis|Robert|Guy|Gilles|Yves|Dominique|Jean-Paul|Georges|Francis|Didier|"
            "Joël|Noël|Maurice|Raymond|Henri|Lucien"
        ),
        _nfc(
            "Christophe|Stéphane|Sébastien|Frédéric|Nicolas|Laurent|David|Julien|Olivier|Éric|"
            "Thierry|Pascal|Cédric|Jérôme|Vincent|Franck|Fabrice|Anthony|Mickaël|Guillaume|"
            "Jean-François|Jean-Philippe|Grégory|Romain|Ludovic|Arnaud|Yannick|Loïc|Benoît|"
            "Hervé|Sylvain|Bruno|Emmanuel|Mathieu|Jean-Christophe|Xavier"
        ),
        _nfc(
            "Thomas|Kévin|Alexandre|Maxime|Quentin|Lucas|Hugo|Florian|Antoine|Théo|Clément|"
            "Valentin|Dylan|Jordan|Bastien|Baptiste|Jean-Baptiste|Mathis|Enzo|Loïc|Axel|"
            "Corentin|Damien|Jérémy|Rémi|Pierre-Louis|Adrien|Killian|Yanis|Kevin|Anthony|"
            "Nicolas|Benjamin|Jonathan|Mathieu"
        ),
        _nfc(
            "Gabriel|Léo|Raphaël|Louis|Arthur|Noah|Jules|Adam|Lucas|Hugo|Nathan|Ethan|Sacha|"
            "Tom|Mohamed|Rayan|Enzo|Théo|Nolan|Timéo|Maël|Liam|Aaron|Paul|Éden|Naël|Ayden|Noé|"
            "Mathéo|Lyam|Gabin|Isaac|Ibrahim|Ilyes|Kylian"
        ),
    ),
    Sex.FEMALE: (
        _nfc(
            "Marie|Monique|Françoise|Nicole|Catherine|Sylvie|Martine|Christine|Isabelle|"
            "Jacqueline|Brigitte|Danielle|Chantal|Nathalie|Annie|Michèle|Anne|Patricia|"
            "Christiane|Marie-Claude|Marie-Thérèse|Josiane|Colette|Évelyne|Hélène|Dominique|"
            "Véronique|Odile|Ginette|Yvette|Marie-Christine|Jeannine|Denise|Simone"
        ),
        _nfc(
            "Nathalie|Isabelle|Sandrine|Valérie|Stéphanie|Céline|Aurélie|Virginie|Sophie|"
            "Caroline|Émilie|Karine|Laetitia|Delphine|Élodie|Audrey|Julie|Séverine|Mélanie|"
            "Marie-Hélène|Anne-Sophie|Hélène|Corinne|Christelle|Cécile|Laurence|Magali|Gaëlle|"
            "Maëva|Élise|Vanessa|Sabrina|Marie-Laure|Anne-Laure|Estelle|Fabienne"
        ),
        _nfc(
            "Camille|Laura|Manon|Marine|Pauline|Julie|Léa|Chloé|Océane|Marion|Justine|"
            "Mathilde|Sarah|Anaïs|Morgane|Emma|Clara|Lucie|Charlotte|Mélissa|Amandine|Noémie|"
            "Élodie|Jessica|Inès|Maëlle|Lisa|Cassandra|Coralie|Marie-Anne|Élise|Margaux|"
            "Ophélie|Alexandra|Émeline"
        ),
        _nfc(
            "Emma|Jade|Louise|Alice|Chloé|Lina|Rose|Léa|Anna|Mila|Ambre|Julia|Inès|Mia|Lou|"
            "Léna|Zoé|Manon|Agathe|Juliette|Lola|Lucie|Romane|Eva|Maëlys|Nina|Alba|Léonie|"
            "Margaux|Lou-Ann|Aya|Sarah|Mariam|Assia|Lyna"
        ),
    ),
}
UNISEX_FIRST = _nfc("Camille|Dominique|Claude|Sacha|Alix|Charlie|Éden|Morgan|Lou|Andrea")
COMPOUND_HEADS: Final = {"MALE": _nfc("Jean|Pierre|Paul|Louis"), "FEMALE": _nfc("Marie|Anne")}


@dataclass(frozen=True)
class Origin:
    """Where a family's names come from, and the nationalities its members declare."""

    name: str
    weight: int
    last: Picker
    male: Picker
    female: Picker
    nationality: Picker


def _origin(
    name: str, weight: int, last: Picker, male: str, female: str, nationalities: str
) -> Origin:
    return Origin(
        name,
        weight,
        last,
        Picker(_nfc(male), 0.6),
        Picker(_nfc(female), 0.6),
        Picker(_nfc(nationalities), 0.9),
    )


ORIGINS: Final = (
    # French: a ranked list for half of the names (Martin is the most common), the
    # synthetic long tail for the other half (see french_last).
    _origin("fr", 54, Picker(FRENCH_LAST, 0.5), "", "", "Française"),
    _origin(
        "maghreb",
        14,
        Picker(MAGHREB_LAST, 0.5),
        "Mohamed|Ahmed|Karim|Mehdi|Youssef|Rachid|Mourad|Samir|Nabil|Hamid|Abdelkader|Saïd|"
        "Omar|Bilal|Amine|Yacine|Sofiane|Walid|Farid|Nordine|Khaled|Rayan|Adam|Ilyès|Ismaël|"
        "Mohammed|Said",
        "Fatima|Khadija|Amina|Yasmina|Nadia|Samira|Leïla|Malika|Karima|Naïma|Aïcha|Meriem|"
        "Sarah|Inès|Lina|Nour|Yasmine|Salma|Hanane|Soraya|Zohra|Djamila|Rania|Leila|Naima",
        "Française|Algérienne|Marocaine|Tunisienne|Algérienne|Marocaine",
    ),
    _origin(
        "west-africa",
        14,
        Picker(WEST_AFRICA_LAST, 0.5),
        "Mamadou|Moussa|Ibrahim|Ibrahima|Oumar|Amadou|Abdoulaye|Souleymane|Boubacar|Seydou|"
        "Mohamed|Lassana|Adama|Bakary|Cheick|Issa|Aliou|Modibo|Sékou|Yacouba|Ousmane|Alpha|"
        "Mory|Lamine|Mamadou Lamine|Cheikh",
        "Fatoumata|Aïssatou|Awa|Mariam|Aminata|Kadiatou|Mariama|Hawa|Fanta|Oumou|Djeneba|"
        "Kadidia|Assa|Nafissatou|Binta|Ramatoulaye|Sira|Coumba|Adja|Salimata|Maïmouna|Rokia|"
        "Aissatou|Fatoumata Binta",
        "Malienne|Guinéenne|Ivoirienne|Française|Sénégalaise|Mauritanienne|Camerounaise|Congolaise",
    ),
    _origin(
        "horn",
        4,
        Picker(HORN_LAST, 0.6),
        "Yonas|Dawit|Samuel|Mulugeta|Tesfalem|Filmon|Abdirahman|Abdullahi|Hussein|Mahamat|"
        "Idriss|Adam|Mohamed|Abdelaziz",
        "Selam|Helen|Senait|Mebrat|Saba|Hiwet|Hodan|Amal|Sahra|Fardowsa|Asha|Hawa|Fatime",
        "Érythréenne|Soudanaise|Éthiopienne|Somalienne|Tchadienne",
    ),
    _origin(
        "middle-east",
        5,
        Picker(MIDDLE_EAST_LAST, 0.6),
        "Ahmad|Mohammad|Ali|Hassan|Hussain|Abdul|Ahmad Shah|Mustafa|Omar|Khaled|Bashir|Jawad|"
        "Reza|Farhad|Sami|Rami|Yousef|Ziad|Najib|Wahid",
        "Fatima|Maryam|Zahra|Zainab|Masooma|Parwana|Shabnam|Nour|Rana|Hala|Lina|Rasha|Aya|"
        "Layla|Farzana",
        "Afghane|Syrienne|Irakienne|Iranienne|Pakistanaise",
    ),
    _origin(
        "east-europe",
        5,
        Picker(EAST_EUROPE_LAST, 0.6),
        "Ion|Gheorghe|Vasile|Constantin|Andrei|Florin|Marius|Adrian|Ionuț|Mihai|Dmytro|"
        "Oleksandr|Serhiy|Artur|Arben|Besnik|Armen|Giorgi|Levan|Nicolae",
        "Maria|Elena|Ioana|Mihaela|Andreea|Florentina|Ana|Olena|Iryna|Natalia|Oksana|Arta|"
        "Blerta|Anahit|Nino|Tamar|Daniela",
        "Roumaine|Ukrainienne|Albanaise|Géorgienne|Arménienne|Moldave|Bulgare",
    ),
    _origin(
        "turkey",
        2,
        Picker(TURKEY_LAST, 0.6),
        "Mehmet|Mustafa|Ahmet|Ali|Hüseyin|Hasan|Ibrahim|Murat|Emre|Yusuf|Kemal|Serkan",
        "Ayşe|Fatma|Emine|Hatice|Zeynep|Elif|Meryem|Esra|Özlem|Büşra|Melek",
        "Turque|Française",
    ),
    _origin(
        "asia",
        2,
        Picker(ASIA_LAST, 0.7),
        "Minh|Duc|Thanh|Wei|Jun|Hao|Sokha|Mohammad|Rafiq|Arjun|Ravi|Kumar|Anh",
        "Linh|Mai|Hoa|Mei|Ying|Sophea|Nasrin|Fatema|Priya|Lakshmi|Thi Lan|Ngoc Anh",
        "Vietnamienne|Chinoise|Bangladaise|Sri-lankaise|Cambodgienne|Indienne",
    ),
)
ORIGIN_PICK: Final = Picker(
    [str(i) for i in range(len(ORIGINS))], weights=[o.weight for o in ORIGINS]
)
FRENCH_FIRST_PICK: Final = {
    sex.value: tuple(Picker(names, 0.5) for names in generations)
    for sex, generations in FRENCH_FIRST.items()
}
UNISEX_PICK: Final = Picker(UNISEX_FIRST, 0.3)


def french_last(rnd: Callable[[], float]) -> str:
    r = rnd()
    if r < 0.5:
        return ORIGINS[0].last(rnd)
    if r < 0.53:  # hyphenated: Martin-Dubois
        last = ORIGINS[0].last
        return f"{last(rnd)}-{last(rnd)}"
    vowels = "aeiouéè"
    head = TAIL_HEADS[int(rnd() * len(TAIL_HEADS))]
    middle = TAIL_MIDDLES[int(rnd() * len(TAIL_MIDDLES))] if head[-1] in vowels else ""
    if rnd() < 0.35:  # one more syllable: Ba-r-ol-ier
        if (head + middle)[-1] in vowels:
            middle += TAIL_INNER_END[int(rnd() * len(TAIL_INNER_END))]
        middle += (
            TAIL_INNER[int(rnd() * len(TAIL_INNER))]
            + TAIL_INNER_END[int(rnd() * len(TAIL_INNER_END))]
        )
    end = TAIL_ENDS[int(rnd() * len(TAIL_ENDS))]
    if (head + middle)[-1] in vowels and end[0] in vowels:
        middle += "l"  # Bo-l-et rather than Boet
    name = head + middle + end
    if r > 0.93:  # Le Bachet, de la Rousselle
        particle = TAIL_PARTICLES[int(rnd() * len(TAIL_PARTICLES))]
        name = particle + name
    return name


def last_name(rnd: Callable[[], float], origin: int) -> str:
    if origin == 0:
        return french_last(rnd)
    return ORIGINS[origin].last(rnd)


def first_name(rnd: Callable[[], float], origin: int, sex: str, year: int) -> str:
    if sex == UNSPECIFIED:
        return UNISEX_PICK(rnd)
    generation = 0 if year < 1966 else 1 if year < 1990 else 2 if year < 2005 else 3
    if origin != 0 and not (generation >= 2 and rnd() < 0.35):
        o = ORIGINS[origin]
        return (o.male if sex == MALE else o.female)(rnd)
    french = FRENCH_FIRST_PICK[sex][generation]
    if rnd() < 0.04:  # Jean-Kévin, Marie-Lou
        heads = COMPOUND_HEADS[sex]
        head, second = heads[int(rnd() * len(heads))], french(rnd)
        if "-" not in second and " " not in second and second != head:
            return f"{head}-{second}"
    return french(rnd)
